// Socket options newer than some libc headers. The values are the Linux kernel's ABI, so
// defining them here is exact, not a guess.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#ifndef IP_MULTICAST_ALL
#define IP_MULTICAST_ALL 49
#endif
#ifndef IPV6_MULTICAST_ALL
#define IPV6_MULTICAST_ALL 29
#endif
#ifndef SO_RXQ_OVFL
#define SO_RXQ_OVFL 40
#endif
// UDP segmentation offload (send) and receive coalescing, include/uapi/linux/udp.h.
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif
