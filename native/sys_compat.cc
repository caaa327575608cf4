#include "sys_compat.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mcast {
namespace sys {

// fcntl through syscall(): glibc 2.28+ headers bind fcntl() to fcntl64@GLIBC_2.28.
int DupCloexec(int fd) {
  return static_cast<int>(syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 0));
}

// fcntl through syscall(), as DupCloexec.
int GetStatusFlags(int fd) {
  return static_cast<int>(syscall(SYS_fcntl, fd, F_GETFL));
}

// fcntl through syscall(), as DupCloexec.
int SetStatusFlags(int fd, int flags) {
  return static_cast<int>(syscall(SYS_fcntl, fd, F_SETFL, flags));
}

// Not fstat(): glibc 2.33+ headers bind it to fstat64@GLIBC_2.33, and glibc's own statx()
// wrapper is GLIBC_2.28. statx through syscall() needs no versioned symbol, and its struct is
// the kernel's own, the same on every architecture (Linux 4.11+).
int FileType(int fd, mode_t* mode) {
  struct statx st {};
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_TYPE, &st) != 0) return -1;
  *mode = static_cast<mode_t>(st.stx_mode & S_IFMT);
  return 0;
}

// statx through syscall(), as FileType.
FileIdentity Identify(int fd) {
  struct statx st {};
  FileIdentity id;
  if (syscall(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_INO, &st) != 0) return id;
  id.known = true;
  id.dev_major = st.stx_dev_major;
  id.dev_minor = st.stx_dev_minor;
  id.ino = st.stx_ino;
  return id;
}

bool StillRefersTo(int fd, const FileIdentity& identity) {
  if (!identity.known) return true;
  const FileIdentity now = Identify(fd);
  return now.known && now.dev_major == identity.dev_major && now.dev_minor == identity.dev_minor &&
         now.ino == identity.ino;
}

}  // namespace sys
}  // namespace mcast
