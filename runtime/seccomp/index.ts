export { compileSeccomp, encodeBpf, type BpfInstruction } from './compile.js';
export { DOCKER_DEFAULT_PROFILE } from './docker-default.js';
export type { SeccompAction, SeccompArgCheck, SeccompProfile, SeccompRule } from './profile.js';
export { X86_64_SYSCALLS } from './syscalls-x86_64.js';
