/*
 * An XDP program that passes every frame: drain-gro-veth attaches it to the receiving veth so
 * that the veth builds its skbs on pages, as a NIC driver does. GRO then merges datagrams into
 * one skb's page fragments, as on a NIC, instead of chaining one skb per datagram in a frag list
 * (what it does with the sender's kmalloc'ed skbs): receiving that chain walks and checks every
 * segment (__skb_datagram_iter, __check_object_size), which took C UDP_GRO from 440 to 550 ns
 * per 1316 B datagram here. No headers, so that `clang -target bpf` needs no kernel includes.
 * Built by bench/run.mjs into bench/.build/xdp_pass.o; loaded with `ip link set DEV xdp obj`.
 */
struct xdp_md;

__attribute__((section("xdp"), used)) int xdp_pass(struct xdp_md *ctx)
{
    (void)ctx;
    return 2; /* XDP_PASS */
}

char _license[] __attribute__((section("license"), used)) = "GPL";
