{
  "targets": [
    {
      "target_name": "carp_codec",
      "sources": [
        "native/codec/sha1.cc",
        "native/codec/carp_codec.cc",
        "native/codec/binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O3", "-std=c++17", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"]
    },
    {
      "target_name": "carp_io",
      "sources": [
        "native/io/raw_socket.cc",
        "native/io/packet_ring.cc",
        "native/io/capture.cc",
        "native/io/netlink.cc",
        "native/io/sys.cc",
        "native/io/binding.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-O2", "-std=c++17", "-Wall", "-Wextra"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-ldl"]
    }
  ]
}
