// Defines std::ios_base_library_init(), which GCC 13.2+ emits a call to from <iostream> start-up code
// (symbol _ZSt21ios_base_library_initv, version GLIBCXX_3.4.32). TorchSharp 0.107's libLibTorchSharp.so
// references it; older libstdc++ (Debian 12, Ubuntu 22.04) lacks it. Constructing one ios_base::Init is
// exactly what the real function does. Loaded with RTLD_GLOBAL by LcmLora.Runtime.NativeRuntime.
#include <ios>
namespace std { void ios_base_library_init() { static ios_base::Init init; } }
