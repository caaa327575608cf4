{
  # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a throw while a worker is being terminated must be
  # dropped, not abort the process (node-addon-api's default is a fatal error).
  # -fvisibility=hidden: the addon exports only Node-API's two entry points (NAPI_MODULE_EXPORT:
  # napi_register_module_v1, node_api_module_get_api_version_v1; package.test checks it).
  # Without it every function of ours was an exported, interposable symbol of a -fPIC object:
  # each call between them went through the PLT and none could be inlined across a call site
  # the compiler had to keep (4847 PLT calls; the feed's hot path showed them in perf).
  # The one list of native sources. The sanitizer/fuzz CMake build reads this file too, so the
  # two can never drift apart.
  "variables": {
    "mcast_core_sources": [
      "native/socket_ops.cc",
      "native/sys_compat.cc",
      "native/cmsg_decode.cc",
      "native/recv_batch.cc",
      "native/send_batch.cc",
      "native/interfaces.cc",
      "native/membership_filter.cc",
      "native/link_messages.cc",
      "native/arrival_policy.cc",
      "native/drain.cc",
      "native/moldudp64.cc",
      "native/feed_copies.cc",
      "native/feed_arbiter.cc",
      "native/feed_filter.cc",
      "native/pcap_frames.cc",
      "native/message_block.cc",
      "native/pacer.cc"
    ],
    "mcast_binding_sources": [
      "native/addon.cc",
      "native/napi_errors.cc",
      "native/socket_wrap.cc",
      "native/socket_wrap_recv.cc",
      "native/socket_wrap_send.cc",
      "native/socket_wrap_options.cc",
      "native/link_watch_wrap.cc",
      "native/feed_wrap.cc",
      "native/pcap_frames_napi.cc",
      "native/message_block_napi.cc",
      "native/pacer_napi.cc"
    ]
  },
  "targets": [
    {
      "target_name": "mcast",
      "sources": [ "<@(mcast_core_sources)", "<@(mcast_binding_sources)" ],
      "include_dirs": [ "<!(node -p \"require('node-addon-api').include_dir\")" ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_CPP_EXCEPTIONS",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED"
      ],
      "cflags_cc": [ "-std=c++17", "-Wall", "-Wextra", "-fno-exceptions", "-O2",
                     "-fvisibility=hidden", "-fvisibility-inlines-hidden" ],
      "cflags_cc!": [ "-fno-rtti" ]
    }
  ]
}
