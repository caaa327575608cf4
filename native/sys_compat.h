// The libc calls whose glibc wrappers carry a symbol version above the prebuilds' glibc floor
// (2.17, native/glibc-floor.mjs) when built against newer glibc headers, made here through
// syscall(), which has carried no new version since glibc 2.2.5. One function per call; each
// returns what the libc call would (-1 with errno set on failure). Every other file calls these,
// never the libc wrapper, so that `node native/glibc-floor.mjs` stays green on a new glibc.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace mcast {
namespace sys {

// fcntl(fd, F_DUPFD_CLOEXEC, 0): a duplicate of `fd` with FD_CLOEXEC, or -1.
int DupCloexec(int fd);

// fcntl(fd, F_GETFL): the file status flags of the open file, or -1.
int GetStatusFlags(int fd);

// fcntl(fd, F_SETFL, flags): 0, or -1.
int SetStatusFlags(int fd, int flags);

// The file type bits of fstat(fd)'s st_mode (S_IFMT), as statx(fd, "", AT_EMPTY_PATH,
// STATX_TYPE) reads them: 0 with `*mode` set, or -1.
int FileType(int fd, mode_t* mode);

// What an open file is, apart from the descriptor number: device and inode (a socket's inode
// is unique among the sockets alive). `known` is false when it could not be read.
struct FileIdentity {
  bool known = false;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t ino = 0;
};

// The identity of the file `fd` refers to now (statx STATX_INO), unknown when it cannot be read.
FileIdentity Identify(int fd);

// Whether `fd` still refers to the file `identity` was taken from: false once the descriptor was
// closed (EBADF) or its number reused for another file. True when `identity` is unknown.
bool StillRefersTo(int fd, const FileIdentity& identity);

}  // namespace sys
}  // namespace mcast
