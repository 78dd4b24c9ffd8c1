/**
 * The nftables table the default network needs in the host's namespace: NAT for
 * what steps send out, and refusals for what they send to the host itself, to each
 * other and to link-local addresses (cloud metadata at 169.254.169.254). One table
 * for every tbuild process of a network namespace; it matches steps by their
 * interfaces' names (sandbox_network.c names them `tbuild<slot>`), so it holds no
 * per-step state and never changes while steps run.
 */
export const NAT_TABLE = 'inet tbuild';
export const STEP_INTERFACE_PREFIX = 'tbuild';

const steps = `iifname "${STEP_INTERFACE_PREFIX}*"`;

/**
 * Replaces the table whole, in one transaction (`nft -f`): adding it first makes the
 * delete safe when it is absent, and a process replacing it while another one's steps
 * run changes nothing they see (NAT state lives in conntrack, not in the table).
 */
export function natTableScript(): string {
  return `add table ${NAT_TABLE}
delete table ${NAT_TABLE}
table ${NAT_TABLE} {
  chain input {
    type filter hook input priority filter; policy accept;
    # The host's own services (any of its addresses, IPv6 link-local included) are not
    # the step's to reach: refused at once rather than dropped, so a client fails fast.
    ${steps} meta l4proto tcp reject with tcp reset
    ${steps} reject with icmpx type admin-prohibited
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    ${steps} oifname "${STEP_INTERFACE_PREFIX}*" reject with icmpx type admin-prohibited
    ${steps} ip daddr 169.254.0.0/16 reject with icmpx type admin-prohibited
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ${steps} oifname != "${STEP_INTERFACE_PREFIX}*" masquerade
  }
}
`;
}

/** Removes the table, whether or not it is there. */
export function deleteTableScript(): string {
  return `add table ${NAT_TABLE}\ndelete table ${NAT_TABLE}\n`;
}
