{
  # Built by `npm ci` (package.json "prepare"). Three targets:
  #  - tbuild_native: the N-API addon with the filesystem primitives Node lacks;
  #  - tbuild-sandbox: the helper executable that builds one sandbox per RUN step;
  #  - chroot-escape: a static test fixture (the classic chroot escape), run inside
  #    sandboxes by the conformance suite to prove pivot_root keeps it contained.
  "targets": [
    {
      "target_name": "tbuild_native",
      "sources": ["src/fs_addon.cc", "src/scan_directory.cc", "src/copy_files.cc", "src/sha256_stream.cc", "src/in_root.c"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-O2"],
      "cflags_cc": ["-Wall", "-Wextra", "-O2", "-std=c++17"]
    },
    {
      "target_name": "tbuild-sandbox",
      "type": "executable",
      "sources": ["src/sandbox.c", "src/sandbox_config.c", "src/sandbox_mounts.c", "src/sandbox_process.c", "src/sandbox_network.c", "src/in_root.c"],
      "defines": ["_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"]
    },
    {
      "target_name": "chroot-escape",
      "type": "executable",
      "sources": ["test-fixtures/chroot_escape.c"],
      "cflags": ["-Wall", "-O2"],
      "ldflags": ["-static"]
    }
  ]
}
