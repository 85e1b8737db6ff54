# hosts.sh: a bash library that makes N "hosts" on one machine for orchd's
# multi-host tests. Each host is a network namespace joined to a private
# bridge by a veth pair, with its own address in one /24, its own orchd (data
# root, API socket, pidfile, log) and the means to kill, stop, restart, wipe
# and cut it off.
#
# State owned here (all of it made by this run and removed by hosts_destroy,
# which hosts_create registers on EXIT, INT and TERM):
#   - the run id HOSTS_RUN (from the pid; names: bridge ob<id>, namespaces
#     oh<id>-<n>, root-side veths ov<id>-<n>, eth0 inside each namespace);
#   - one iptables FORWARD ACCEPT rule for the bridge (dockerd sets FORWARD
#     to DROP and bridged traffic goes through iptables), tagged with a
#     comment naming the run, deleted exactly at teardown;
#   - the directory /tmp/oh<id> (h<n>/ for host n: data root, socket,
#     pidfile, log, the pid the harness recorded);
#   - the orchd pids it started, and whatever runs inside its namespaces
#     (orchd's task processes live on after orchd dies, by design).
# hosts_create first sweeps what earlier runs whose owner process is gone
# left behind (a SIGKILLed test cannot run its trap): see
# hosts_sweep_dead_runs. Namespaces have no default route: a host reaches
# its loopback and the other hosts' addresses, nothing else.
#
# Use: HOSTS_BUILD=<build dir>; source hosts.sh; hosts_create 3;
# hosts_start_orchd 1 [--flag...]; hosts_orchctl 1 service ls; ... Every
# function returns non-zero with a message on stderr when it fails.

HOSTS_BUILD=${HOSTS_BUILD:-}
HOSTS_RUN=""
HOSTS_N=0
HOSTS_DIR=""
HOSTS_NET=""              # first three octets, e.g. 10.48.57
HOSTS_FWD_RULE=()         # the FORWARD rule spec we added (empty: none)
HOSTS_PIDS=()             # HOSTS_PIDS[i]: orchd pid of host i, or empty
HOSTS_FLAGS=()            # HOSTS_FLAGS[i]: host i's extra orchd flags (%q-quoted)
HOSTS_DESTROYED=1         # nothing to destroy until hosts_create runs
HOSTS_API_TIMEOUT=${HOSTS_API_TIMEOUT:-20}      # seconds for orchd to answer
HOSTS_ORCHCTL_TIMEOUT=${HOSTS_ORCHCTL_TIMEOUT:-30}

hosts_err() { echo "hosts: $*" >&2; return 1; }

# hosts_poll SECONDS COMMAND...: runs the command every 0.1 s until it
# succeeds (0) or SECONDS pass (1).
hosts_poll() {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
  return 0
}

hosts_ns() { echo "oh${HOSTS_RUN}-$1"; }
hosts_veth() { echo "ov${HOSTS_RUN}-$1"; }
hosts_bridge() { echo "ob${HOSTS_RUN}"; }
hosts_addr() { echo "${HOSTS_NET}.$((10 + $1))"; }
hosts_dir() { echo "${HOSTS_DIR}/h$1"; }
hosts_sock() { echo "${HOSTS_DIR}/h$1/orchd.sock"; }
hosts_log() { echo "${HOSTS_DIR}/h$1/orchd.log"; }
hosts_pid() { echo "${HOSTS_PIDS[$1]:-}"; }

hosts_check_index() {
  [[ "$1" =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ] && [ "$1" -le "$HOSTS_N" ] ||
    hosts_err "no host '$1' (hosts are 1..$HOSTS_N)"
}

# hosts_exec I CMD...: runs the command inside host I's namespace.
hosts_exec() {
  hosts_check_index "$1" || return 1
  local i=$1; shift
  ip netns exec "$(hosts_ns "$i")" "$@"
}

# A run id whose names nothing on the machine uses yet: the pid, with a
# letter added if a dead run with the same pid left something behind.
hosts_pick_run() {
  local suffix id
  for suffix in "" a b c d e f g h i j k l m n o p q r s t u v w x y z; do
    id="$$$suffix"
    ip link show "ob$id" >/dev/null 2>&1 && continue
    compgen -G "/run/netns/oh$id-*" >/dev/null && continue
    [ -e "/tmp/oh$id" ] && continue
    HOSTS_RUN=$id
    return 0
  done
  hosts_err "every run id for pid $$ is taken by leftovers"
}

# Writes a sysctl file when the kernel has it (IPv6 may be disabled at boot).
hosts_sysctl_if_present() {
  local ns=$1 path=$2 value=$3
  if [ -z "$ns" ]; then
    [ -e "$path" ] || return 0
    echo "$value" >"$path" || hosts_err "cannot write $value to $path"
  else
    ip netns exec "$ns" sh -c "[ ! -e '$path' ] || echo '$value' > '$path'" ||
      hosts_err "cannot write $value to $path in $ns"
  fi
}

hosts_add_forward_rule() {
  command -v iptables >/dev/null || return 0
  local br; br=$(hosts_bridge)
  local rule=(FORWARD -i "$br" -o "$br" -m comment --comment "orchd-hosts $br" -j ACCEPT)
  iptables -w -I "${rule[@]}" || { hosts_err "cannot add the FORWARD accept rule for $br"; return; }
  HOSTS_FWD_RULE=("${rule[@]}")
}

hosts_make_bridge() {
  local br; br=$(hosts_bridge)
  ip link add "$br" type bridge || { hosts_err "cannot create bridge $br"; return; }
  hosts_sysctl_if_present "" "/proc/sys/net/ipv6/conf/$br/disable_ipv6" 1 || return 1
  ip link set "$br" up || { hosts_err "cannot bring $br up"; return; }
}

hosts_make_host() {
  local i=$1 ns veth br addr
  ns=$(hosts_ns "$i"); veth=$(hosts_veth "$i"); br=$(hosts_bridge); addr=$(hosts_addr "$i")
  ip netns add "$ns" || { hosts_err "cannot create namespace $ns"; return; }
  ip link add "$veth" type veth peer name eth0 netns "$ns" ||
    { hosts_err "cannot create veth $veth"; return; }
  hosts_sysctl_if_present "" "/proc/sys/net/ipv6/conf/$veth/disable_ipv6" 1 || return 1
  hosts_sysctl_if_present "$ns" /proc/sys/net/ipv6/conf/all/disable_ipv6 1 || return 1
  ip link set "$veth" master "$br" up || { hosts_err "cannot attach $veth to $br"; return; }
  ip -n "$ns" link set lo up || { hosts_err "cannot bring lo up in $ns"; return; }
  ip -n "$ns" addr add "$addr/24" dev eth0 || { hosts_err "cannot give $addr to $ns"; return; }
  ip -n "$ns" link set eth0 up || { hosts_err "cannot bring eth0 up in $ns"; return; }
  mkdir -p "$(hosts_dir "$i")" || { hosts_err "cannot create $(hosts_dir "$i")"; return; }
}

hosts_third_word() { printf '%s' "$3"; }

# Chains hosts_destroy in front of whatever EXIT trap the caller had, and
# makes INT and TERM exit through it.
hosts_install_traps() {
  local previous command
  previous=$(trap -p EXIT)
  if [ -n "$previous" ]; then
    command=$(eval "hosts_third_word $previous")     # trap -- 'COMMAND' EXIT
    # shellcheck disable=SC2064 # the caller's command is meant to expand now
    trap "hosts_destroy; $command" EXIT
  else
    trap hosts_destroy EXIT
  fi
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# hosts_create N: N namespaces on a new bridge, host i at 10.x.y.(10+i)/24.
hosts_create() {
  local n=$1 i
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 200 ] ||
    { hosts_err "hosts_create wants a count from 1 to 200, not '$n'"; return; }
  [ "$HOSTS_DESTROYED" = 1 ] || { hosts_err "hosts_create called twice without hosts_destroy"; return; }
  hosts_sweep_dead_runs || { hosts_err "cannot sweep the leftovers of dead runs"; return; }
  hosts_pick_run || return 1
  HOSTS_N=$n
  HOSTS_DIR=/tmp/oh$HOSTS_RUN
  HOSTS_NET="10.$(( ($$ >> 8) % 256 )).$(( $$ % 256 ))"
  HOSTS_PIDS=(); HOSTS_FLAGS=(); HOSTS_FWD_RULE=()
  HOSTS_DESTROYED=0
  hosts_install_traps
  mkdir -p "$HOSTS_DIR" || { hosts_err "cannot create $HOSTS_DIR"; return; }
  echo $$ >"$HOSTS_DIR/owner"
  hosts_make_bridge || return 1
  hosts_add_forward_rule || return 1
  for ((i = 1; i <= n; i++)); do hosts_make_host "$i" || return 1; done
}

# hosts_start_orchd I [ORCHD_FLAGS...]: starts BUILD/bin/orchd in host I's
# namespace and waits (bounded) until its API answers. The flags are kept
# for hosts_restart.
hosts_start_orchd() {
  hosts_check_index "$1" || return 1
  local i=$1; shift
  [ -x "$HOSTS_BUILD/bin/orchd" ] || { hosts_err "no orchd at HOSTS_BUILD=$HOSTS_BUILD"; return; }
  if hosts_orchd_alive "$i"; then
    hosts_err "host $i already runs orchd (pid $(hosts_pid "$i"))"; return
  fi
  HOSTS_FLAGS[i]=$(printf '%q ' "$@")
  hosts_launch "$i" "$@"
}

hosts_launch() {
  local i=$1; shift
  local d; d=$(hosts_dir "$i")
  ip netns exec "$(hosts_ns "$i")" "$HOSTS_BUILD/bin/orchd" \
    --plugins "${HOSTS_PLUGINS:-$HOSTS_BUILD/plugins}" --data-root "$d/root" \
    -H "unix://$d/orchd.sock" --pidfile "$d/orchd.pid" --hostname "host$i" \
    --log-level debug "$@" </dev/null >>"$d/orchd.log" 2>&1 &
  HOSTS_PIDS[i]=$!             # ip netns exec execs orchd: same pid
  echo "${HOSTS_PIDS[i]}" >"$d/harness.pid"
  # The poll's own answer decides: a second 1 s probe after a successful
  # one could time out on a loaded machine and fail a host that answered.
  local answered=1
  hosts_poll "$HOSTS_API_TIMEOUT" hosts_answers_or_exited "$i" || answered=0
  if ! hosts_orchd_alive "$i"; then
    wait "${HOSTS_PIDS[i]}" 2>/dev/null || :   # reaps it
    HOSTS_PIDS[i]=""
    tail -n 20 "$d/orchd.log" >&2
    hosts_err "orchd of host $i exited; log: $d/orchd.log"; return
  fi
  if [ $answered = 0 ]; then
    tail -n 20 "$d/orchd.log" >&2
    hosts_err "orchd of host $i did not answer within ${HOSTS_API_TIMEOUT}s"; return
  fi
}

hosts_answers_or_exited() { hosts_api_ok "$1" || ! hosts_orchd_alive "$1"; }

# hosts_orchd_alive I: the recorded pid is a live process in host I's
# namespace (so a pid the kernel reused elsewhere is never signalled).
hosts_orchd_alive() {
  local pid; pid=$(hosts_pid "$1")
  [ -n "$pid" ] && ! hosts_pid_gone "$pid" &&
    [ "$(ip netns identify "$pid" 2>/dev/null)" = "$(hosts_ns "$1")" ]
}

# hosts_api_ok I: orchd of host I answers /_ping within a second.
hosts_api_ok() {
  curl -sf --max-time 1 --unix-socket "$(hosts_sock "$1")" http://orchd/_ping >/dev/null
}

# hosts_api I PATH: GET on host I's API (bounded).
hosts_api() {
  curl -sf --max-time 10 --unix-socket "$(hosts_sock "$1")" "http://orchd$2"
}

# hosts_orchctl I ARGS...: orchctl against host I's socket, from the root
# namespace (the socket is a file, visible everywhere); bounded in time, so
# a stopped host makes it fail instead of hang.
hosts_orchctl() {
  hosts_check_index "$1" || return 1
  local i=$1; shift
  timeout "$HOSTS_ORCHCTL_TIMEOUT" "$HOSTS_BUILD/bin/orchctl" -H "unix://$(hosts_sock "$i")" "$@"
}

hosts_signal() {
  local sig=$1 i=$2
  hosts_check_index "$i" || return 1
  hosts_orchd_alive "$i" || { hosts_err "host $i runs no orchd of this run"; return; }
  kill "-$sig" "$(hosts_pid "$i")" || { hosts_err "kill -$sig $(hosts_pid "$i") (host $i) failed"; return; }
}

# hosts_kill I: SIGKILL host I's orchd and reap it. Its tasks live on.
hosts_kill() {
  hosts_signal KILL "$1" || return 1
  local pid; pid=$(hosts_pid "$1")
  wait "$pid" 2>/dev/null || :   # reaps; its status is the signal
  hosts_poll 10 hosts_pid_gone "$pid" || { hosts_err "orchd of host $1 survived SIGKILL"; return; }
  HOSTS_PIDS[$1]=""
}

# hosts_pid_gone PID: the process has exited (a zombie waiting for its
# parent, often init for orchd's detached shims, counts as exited).
hosts_pid_gone() {
  local state
  state=$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 0
  [ -z "$state" ] || [ "$state" = Z ] || [ "$state" = X ]
}

hosts_stop() { hosts_signal STOP "$1"; }
hosts_cont() { hosts_signal CONT "$1"; }

# hosts_restart I: SIGTERM orchd when it runs (bounded wait; SIGKILL after),
# then start it again with the flags of hosts_start_orchd.
hosts_restart() {
  hosts_check_index "$1" || return 1
  local i=$1 pid; pid=$(hosts_pid "$i")
  if hosts_orchd_alive "$i"; then
    kill -CONT "$pid"; kill -TERM "$pid"
    if ! hosts_poll 20 hosts_pid_gone "$pid"; then
      kill -KILL "$pid"
      hosts_poll 10 hosts_pid_gone "$pid" || { hosts_err "orchd of host $i survived SIGKILL"; return; }
    fi
    wait "$pid" 2>/dev/null || :
  fi
  HOSTS_PIDS[i]=""
  eval "hosts_launch $i ${HOSTS_FLAGS[i]:-}"
}

# hosts_stop_orchd I: SIGTERM host I's orchd (SIGCONT first, in case it is
# stopped) and reap it; its tasks live on. Fails when orchd needed SIGKILL
# (no exit within 20 s) or exited with a non-zero status.
hosts_stop_orchd() {
  hosts_check_index "$1" || return 1
  local i=$1 pid rc; pid=$(hosts_pid "$i")
  hosts_orchd_alive "$i" || { hosts_err "host $i runs no orchd of this run"; return; }
  kill -CONT "$pid"
  kill -TERM "$pid" || { hosts_err "kill -TERM $pid (host $i) failed"; return; }
  if ! hosts_poll 20 hosts_pid_gone "$pid"; then
    kill -KILL "$pid"; wait "$pid" 2>/dev/null; HOSTS_PIDS[i]=""
    hosts_err "orchd of host $i ignored SIGTERM for 20 s and was SIGKILLed"; return
  fi
  wait "$pid" 2>/dev/null; rc=$?
  HOSTS_PIDS[i]=""
  [ "$rc" = 0 ] || hosts_err "orchd of host $i exited with status $rc on SIGTERM"
}

# hosts_root I: host I's orchd data root (identity, raft, plugin data).
hosts_root() { echo "${HOSTS_DIR}/h$1/root"; }

# hosts_wipe I: deletes host I's data root, as on a machine whose orchd
# state was lost; orchd must not run (hosts_stop_orchd or hosts_kill
# first). hosts_restart then starts it as a node that never joined. Its
# tasks (processes, containers) are left to whoever finds them.
hosts_wipe() {
  hosts_check_index "$1" || return 1
  hosts_orchd_alive "$1" && { hosts_err "host $1 still runs orchd (pid $(hosts_pid "$1")): stop it first"; return; }
  rm -rf "$(hosts_root "$1")" || hosts_err "cannot remove $(hosts_root "$1")"
}

# hosts_node_id I: the node id host I's orchd runs as (the ID of its
# GET /info; a new one after hosts_wipe).
hosts_node_id() {
  hosts_check_index "$1" || return 1
  local id
  id=$(hosts_api "$1" /info | jq -r '.ID // empty') || { hosts_err "host $1: GET /info failed"; return; }
  [ -n "$id" ] || { hosts_err "host $1: GET /info has no ID"; return; }
  echo "$id"
}

# hosts_cut I [link|drop]: cuts host I off from the others. link (default):
# its bridge-side veth goes down. drop: nftables drop rules on eth0 in its
# namespace (the link stays up: packets vanish, nothing is refused).
hosts_cut() {
  hosts_check_index "$1" || return 1
  local i=$1 mode=${2:-link}
  case "$mode" in
    link) ip link set "$(hosts_veth "$i")" down || { hosts_err "cannot set $(hosts_veth "$i") down"; return; } ;;
    drop)
      ip netns exec "$(hosts_ns "$i")" nft -f - <<'EOF' || { hosts_err "cannot add drop rules in host $i"; return; }
table inet orchd_hosts_cut {
  chain in { type filter hook input priority -10; policy accept; iifname "eth0" drop; }
  chain out { type filter hook output priority -10; policy accept; oifname "eth0" drop; }
}
EOF
      ;;
    *) { hosts_err "hosts_cut: mode is link or drop, not '$mode'"; return; } ;;
  esac
}

# hosts_heal I: undoes hosts_cut, whichever mode was used.
hosts_heal() {
  hosts_check_index "$1" || return 1
  local i=$1 ns; ns=$(hosts_ns "$i")
  if ip netns exec "$ns" nft list table inet orchd_hosts_cut >/dev/null 2>&1; then
    ip netns exec "$ns" nft delete table inet orchd_hosts_cut ||
      { hosts_err "cannot delete the drop rules in host $i"; return; }
  fi
  ip link set "$(hosts_veth "$i")" up || { hosts_err "cannot set $(hosts_veth "$i") up"; return; }
}

# hosts_run_pids: every pid recorded or living in one of the run's
# namespaces (orchd, its shims and tasks).
hosts_run_pids() {
  local i ns
  for ((i = 1; i <= HOSTS_N; i++)); do
    [ -n "${HOSTS_PIDS[i]:-}" ] && echo "${HOSTS_PIDS[i]}"
    ns=$(hosts_ns "$i")
    [ -e "/run/netns/$ns" ] && ip netns pids "$ns" 2>/dev/null
  done | sort -u
}

hosts_ns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }

hosts_kill_host_processes() {
  local i=$1 ns pid; ns=$(hosts_ns "$i")
  if hosts_orchd_alive "$i"; then
    pid=$(hosts_pid "$i")
    kill -KILL "$pid"; wait "$pid" 2>/dev/null || :
  fi
  HOSTS_PIDS[i]=""
  [ -e "/run/netns/$ns" ] || return 0
  for _ in 1 2 3; do     # a shim may fork while we kill: go again
    # A pid may exit between listing and kill; the emptiness check decides.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    hosts_poll 5 hosts_ns_empty "$ns" && return 0
  done
  hosts_err "processes still in $ns: $(ip netns pids "$ns" | tr '\n' ' ')"
}

hosts_remove_host() {
  local i=$1 ns veth rc=0; ns=$(hosts_ns "$i"); veth=$(hosts_veth "$i")
  if [ -e "/run/netns/$ns" ]; then
    ip netns del "$ns" || { hosts_err "cannot delete namespace $ns"; rc=1; }
  fi
  # The namespace's end goes with it, and the pair with that end.
  if ! hosts_poll 5 hosts_link_gone "$veth"; then
    ip link del "$veth" || { hosts_err "cannot delete $veth"; rc=1; }
  fi
  return $rc
}

hosts_link_gone() { ! ip link show "$1" >/dev/null 2>&1; }

# hosts_destroy: removes all the run made; safe to call more than once.
hosts_destroy() {
  [ "$HOSTS_DESTROYED" = 1 ] && return 0
  local rc=0 i br; br=$(hosts_bridge)
  for ((i = 1; i <= HOSTS_N; i++)); do hosts_kill_host_processes "$i" || rc=1; done
  for ((i = 1; i <= HOSTS_N; i++)); do hosts_remove_host "$i" || rc=1; done
  if ! hosts_link_gone "$br"; then ip link del "$br" || { hosts_err "cannot delete bridge $br"; rc=1; }; fi
  if [ ${#HOSTS_FWD_RULE[@]} -gt 0 ]; then
    if iptables -w -D "${HOSTS_FWD_RULE[@]}"; then HOSTS_FWD_RULE=()
    else hosts_err "cannot delete the FORWARD rule for $br"; rc=1; fi
  fi
  if [ -n "$HOSTS_DIR" ] && [ -d "$HOSTS_DIR" ]; then
    rm -rf "$HOSTS_DIR" || { hosts_err "cannot remove $HOSTS_DIR"; rc=1; }
  fi
  [ $rc = 0 ] && HOSTS_DESTROYED=1
  return $rc
}

# hosts_sweep_dead_runs: removes what runs whose owner process is gone left
# behind (a test killed by SIGKILL, e.g. on a ctest timeout, cannot run its
# trap). A run is known by /tmp/oh<id>/owner; a live owner, or no owner file
# yet, means the run is someone's and is left alone.
hosts_sweep_dead_runs() {
  local owner_file id owner rc=0
  for owner_file in /tmp/oh*/owner; do
    [ -f "$owner_file" ] || continue
    id=${owner_file#/tmp/oh}; id=${id%/owner}
    [[ "$id" =~ ^[0-9]+[a-z]?$ ]] || continue
    owner=$(cat "$owner_file" 2>/dev/null)
    [[ "$owner" =~ ^[0-9]+$ ]] || continue
    kill -0 "$owner" 2>/dev/null && continue
    echo "hosts: sweeping run $id (owner pid $owner is gone)" >&2
    ( hosts_adopt_run "$id" && hosts_destroy ) || rc=1
  done
  return $rc
}

# hosts_adopt_run ID: points this shell's state at run ID's leftovers, so
# that hosts_destroy removes them (used in a subshell by the sweep).
hosts_adopt_run() {
  local id=$1 ns n max=0
  HOSTS_RUN=$id; HOSTS_DIR=/tmp/oh$id; HOSTS_PIDS=(); HOSTS_FWD_RULE=()
  for ns in $(ip netns list | awk '{ print $1 }'); do
    n=${ns#"oh$id-"}
    [ "$n" != "$ns" ] && [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt "$max" ] && max=$n
  done
  for n in $(ip -br link | awk '{ print $1 }' | sed -n "s/^ov$id-\([0-9]*\)@.*/\1/p"); do
    [ "$n" -gt "$max" ] && max=$n
  done
  HOSTS_N=$max
  local br="ob$id"
  if iptables -w -S FORWARD 2>/dev/null | grep -qF -- "--comment \"orchd-hosts $br\""; then
    HOSTS_FWD_RULE=(FORWARD -i "$br" -o "$br" -m comment --comment "orchd-hosts $br" -j ACCEPT)
  fi
  HOSTS_DESTROYED=0
}

# hosts_leftovers: prints anything of this run still on the machine (empty
# output: nothing left). For tests of the harness itself.
hosts_leftovers() {
  local br; br=$(hosts_bridge)
  ip netns list | grep -E "^oh${HOSTS_RUN}-[0-9]+( |$)" | sed 's/^/namespace /'
  ip -br link | awk -v b="$br" -v v="ov${HOSTS_RUN}-" '$1 == b || index($1, v) == 1 { print "link " $1 }'
  iptables -w -S 2>/dev/null | grep -F "orchd-hosts $br" | sed 's/^/iptables /'
  nft list ruleset 2>/dev/null | grep -F "orchd-hosts $br" | sed 's/^/nft /'
  [ -e "$HOSTS_DIR" ] && echo "dir $HOSTS_DIR"
  return 0
}
