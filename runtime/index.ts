/**
 * runtime: the Executor interface and the native sandbox that runs RUN steps,
 * plus the filesystem primitives Node lacks (mknod, xattrs, mount, in-root
 * resolution) for the layer code. Imports core only.
 */
export {
  MountFlags,
  UmountFlags,
  XattrFlags,
  nativeFs,
  type InRootOptions,
  type NativeFs,
} from './native-fs.js';
export { nativeBuildPath } from './native/addon.js';
