/**
 * daemon/docker-api: the Docker Engine API subset of `tbuild serve`, so a CI
 * job switches by setting DOCKER_HOST: ping, version, the classic build API,
 * the image list, tag, push and build-cache prune, with and without a
 * `/v1.NN` prefix; everything else answers a Docker-style "not served".
 */
export { registerDockerApi } from './register.js';
