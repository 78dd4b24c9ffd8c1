/*
 * The default network (docs/runtime.md "Network"): each step's network namespace
 * gets one end of a veth pair, `eth0`, with an address of a /31 out of the build
 * subnet and a default route to the other end, `tbuild<slot>`, which stays in the
 * host's namespace with the other address of the /31. The host NATs what leaves
 * and refuses what the step sends to the host itself (the nftables table that
 * runtime/network/ installs); this file only makes the link.
 *
 * Runs in the helper's parent half, after the clone and before the child is let
 * go, so the command starts with its network ready. Raw rtnetlink, a handful of
 * messages: no `ip` process per step.
 *
 * A slot (which /31, which interface name) is held by binding the abstract unix
 * socket "tbuild/network-slot/<n>" in the host's namespace for as long as this
 * process lives: the kernel frees it when the process dies, however it dies, so
 * concurrent tbuild processes never pick the same slot and nothing stays behind.
 * The veth itself goes with the step's namespace; while the kernel still tears
 * an old one down, creating its name fails with EEXIST and the next slot is tried.
 */
#include "sandbox.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct request {
  struct nlmsghdr header;
  union {
    struct ifinfomsg link;
    struct ifaddrmsg address;
    struct rtmsg route;
  } body;
  char attributes[512];
};

static void request_init(struct request *r, uint16_t type, uint16_t flags, size_t body) {
  memset(r, 0, sizeof *r);
  r->header.nlmsg_len = NLMSG_LENGTH(body);
  r->header.nlmsg_type = type;
  r->header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

static struct rtattr *attribute(struct request *r, uint16_t type, const void *data, size_t len) {
  size_t at = NLMSG_ALIGN(r->header.nlmsg_len);
  if (at + RTA_SPACE(len) > sizeof *r) die("network", "netlink request too long");
  struct rtattr *a = (struct rtattr *)((char *)r + at);
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len > 0) memcpy(RTA_DATA(a), data, len);
  r->header.nlmsg_len = (uint32_t)(at + RTA_SPACE(len));
  return a;
}

/* Closes a nested attribute opened with attribute(r, type, NULL, 0). */
static void nest_end(struct request *r, struct rtattr *nest) {
  nest->rta_len = (unsigned short)((char *)r + r->header.nlmsg_len - (char *)nest);
}

/* Sends one request and waits for its acknowledgement: 0, or the kernel's errno. */
static int talk(int fd, struct request *r) {
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  if (sendto(fd, r, r->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0)
    return errno;
  char reply[1024];
  for (;;) {
    ssize_t n = recv(fd, reply, sizeof reply, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, (unsigned)n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_ERROR) return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
    }
  }
}

static int netlink_socket(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) die("network", "netlink socket");
  return fd;
}

/* Parses "a.b.c.d/len" (len 8..30) into the base address (host order) and the prefix length. */
static void parse_subnet(const char *text, uint32_t *base, int *prefix) {
  char address[32];
  const char *slash = strchr(text, '/');
  if (!slash || (size_t)(slash - text) >= sizeof address) die("network", "bad subnet %s", text);
  memcpy(address, text, (size_t)(slash - text));
  address[slash - text] = '\0';
  struct in_addr parsed;
  if (inet_pton(AF_INET, address, &parsed) != 1) die("network", "bad subnet %s", text);
  *prefix = atoi(slash + 1);
  if (*prefix < 8 || *prefix > 30) die("network", "subnet %s: prefix must be 8 to 30", text);
  *base = ntohl(parsed.s_addr) & ~((1u << (32 - *prefix)) - 1);
}

/* Binds the slot's abstract socket: its fd while held, -1 when another process holds it. */
static int claim_slot(unsigned slot) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("network", "unix socket");
  struct sockaddr_un name = {.sun_family = AF_UNIX};
  int len = snprintf(name.sun_path + 1, sizeof name.sun_path - 1, "tbuild/network-slot/%u", slot);
  socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
  if (bind(fd, (struct sockaddr *)&name, size) == 0) return fd;
  if (errno != EADDRINUSE) die("network", "bind the slot socket");
  close(fd);
  return -1;
}

/*
 * No IPv6 link-local address on either end (addr_gen_mode none, set while the link is
 * down: the kernel ignores it in a veth's creation request): steps get no IPv6 path to
 * the host at all, and the kernel skips duplicate address detection and multicast
 * reports for a link that lives a few seconds.
 */
static void without_link_local(struct request *r) {
  struct rtattr *spec = attribute(r, IFLA_AF_SPEC, NULL, 0);
  struct rtattr *inet6 = attribute(r, AF_INET6, NULL, 0);
  uint8_t mode = IN6_ADDR_GEN_MODE_NONE;
  attribute(r, IFLA_INET6_ADDR_GEN_MODE, &mode, sizeof mode);
  nest_end(r, inet6);
  nest_end(r, spec);
}

/* The veth pair, both ends down: `host_name` here, `eth0` in the namespace of `pid`. */
static int create_veth(int fd, const char *host_name, pid_t pid, int mtu) {
  struct request r;
  request_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifinfomsg));
  r.body.link.ifi_family = AF_UNSPEC;
  attribute(&r, IFLA_IFNAME, host_name, strlen(host_name) + 1);
  if (mtu > 0) attribute(&r, IFLA_MTU, &mtu, sizeof mtu);
  struct rtattr *info = attribute(&r, IFLA_LINKINFO, NULL, 0);
  attribute(&r, IFLA_INFO_KIND, "veth", 4);
  struct rtattr *data = attribute(&r, IFLA_INFO_DATA, NULL, 0);
  struct rtattr *peer = attribute(&r, VETH_INFO_PEER, NULL, 0);
  struct ifinfomsg peer_link = {.ifi_family = AF_UNSPEC};
  /* The peer's ifinfomsg sits in the attribute's payload, its attributes after it. */
  r.header.nlmsg_len += NLMSG_ALIGN(sizeof peer_link);
  memcpy(RTA_DATA(peer), &peer_link, sizeof peer_link);
  attribute(&r, IFLA_IFNAME, "eth0", 5);
  if (mtu > 0) attribute(&r, IFLA_MTU, &mtu, sizeof mtu);
  uint32_t target = (uint32_t)pid;
  attribute(&r, IFLA_NET_NS_PID, &target, sizeof target);
  nest_end(&r, peer);
  nest_end(&r, data);
  nest_end(&r, info);
  return talk(fd, &r);
}

/* Brings the link up, first without an IPv6 link-local address where the kernel has IPv6. */
static void link_up(int fd, int ifindex, const char *what) {
  struct request r;
  request_init(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
  r.body.link.ifi_family = AF_UNSPEC;
  r.body.link.ifi_index = ifindex;
  without_link_local(&r);
  int err = talk(fd, &r);
  if (err != 0 && err != EAFNOSUPPORT) { errno = err; die("network", "addr_gen_mode of %s", what); }
  request_init(&r, RTM_NEWLINK, 0, sizeof(struct ifinfomsg));
  r.body.link.ifi_family = AF_UNSPEC;
  r.body.link.ifi_index = ifindex;
  r.body.link.ifi_flags = r.body.link.ifi_change = IFF_UP;
  err = talk(fd, &r);
  if (err != 0) { errno = err; die("network", "bring %s up", what); }
}

static void add_address(int fd, int ifindex, uint32_t address, int prefix, const char *what) {
  struct request r;
  request_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct ifaddrmsg));
  r.body.address.ifa_family = AF_INET;
  r.body.address.ifa_prefixlen = (unsigned char)prefix;
  r.body.address.ifa_index = (unsigned)ifindex;
  uint32_t wire = htonl(address);
  attribute(&r, IFA_LOCAL, &wire, sizeof wire);
  attribute(&r, IFA_ADDRESS, &wire, sizeof wire);
  int err = talk(fd, &r);
  if (err != 0) { errno = err; die("network", "address on %s", what); }
}

static void add_default_route(int fd, int ifindex, uint32_t gateway) {
  struct request r;
  request_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, sizeof(struct rtmsg));
  r.body.route.rtm_family = AF_INET;
  r.body.route.rtm_table = RT_TABLE_MAIN;
  r.body.route.rtm_protocol = RTPROT_BOOT;
  r.body.route.rtm_scope = RT_SCOPE_UNIVERSE;
  r.body.route.rtm_type = RTN_UNICAST;
  uint32_t wire = htonl(gateway);
  attribute(&r, RTA_GATEWAY, &wire, sizeof wire);
  uint32_t oif = (uint32_t)ifindex;
  attribute(&r, RTA_OIF, &oif, sizeof oif);
  int err = talk(fd, &r);
  if (err != 0) { errno = err; die("network", "default route in the step"); }
}

/*
 * A netlink socket and eth0's index in the namespace of `pid`: the socket keeps
 * the namespace it was made in, so this process enters it only for a moment.
 */
static int inner_socket(pid_t pid, int *eth0) {
  int own = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
  int step = open(path, O_RDONLY | O_CLOEXEC);
  if (own < 0 || step < 0) die("network", "open network namespaces");
  if (setns(step, CLONE_NEWNET) != 0) die("network", "enter the step's namespace");
  int fd = netlink_socket();
  *eth0 = (int)if_nametoindex("eth0");
  int err = *eth0 == 0 ? errno : 0;
  if (setns(own, CLONE_NEWNET) != 0) die("network", "return to the host's namespace");
  close(own);
  close(step);
  if (*eth0 == 0) { errno = err; die("network", "find eth0 in the step"); }
  return fd;
}

void network_attach(const struct sandbox_config *c, pid_t pid) {
  if (c->net_subnet == NULL) die("network", "nat without a subnet");
  uint32_t base;
  int prefix;
  parse_subnet(c->net_subnet, &base, &prefix);
  unsigned slots = 1u << (32 - prefix - 1); /* one /31 each */
  int host = netlink_socket();
  /* Start somewhere of our own so concurrent helpers rarely try the same slots. */
  unsigned start = (unsigned)getpid() % slots;
  char name[IFNAMSIZ + 16]; /* "tbuild" and at most 7 digits (slots < 2^23) */
  unsigned slot = 0;
  int claimed = -1;
  for (unsigned i = 0; i < slots && claimed < 0; i++) {
    slot = (start + i) % slots;
    claimed = claim_slot(slot);
    if (claimed < 0) continue;
    snprintf(name, sizeof name, "tbuild%u", slot);
    int err = create_veth(host, name, pid, c->net_mtu);
    if (err == EEXIST) { /* the last holder's veth is still being torn down */
      close(claimed);
      claimed = -1;
      continue;
    }
    if (err != 0) { errno = err; die("network", "create veth %s", name); }
  }
  if (claimed < 0) die("network", "all %u addresses of %s are in use", slots, c->net_subnet);
  /* `claimed` stays open (not inherited: CLOEXEC, and the child was cloned before) until we exit. */
  uint32_t host_address = base + 2 * slot, step_address = host_address + 1;
  int host_index = (int)if_nametoindex(name);
  if (host_index == 0) die("network", "find %s", name);
  link_up(host, host_index, name);
  add_address(host, host_index, host_address, 31, name);
  close(host);
  int eth0;
  int inner = inner_socket(pid, &eth0);
  link_up(inner, eth0, "eth0");
  add_address(inner, eth0, step_address, 31, "eth0");
  add_default_route(inner, eth0, host_address);
  close(inner);
}
