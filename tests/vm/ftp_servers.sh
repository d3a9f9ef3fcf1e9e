#!/bin/bash
# ftp_servers.sh: real FTP servers for the live tests, as a sourceable library (sourcing it only
# defines functions and FTP_SERVER_NAMES).
#
#   source tests/vm/ftp_servers.sh
#   ftp_server_start NAME NETNS ROOTDIR RUNDIR [--port N] [--masquerade ADDR]
#   ftp_server_stop NAME RUNDIR
#
# NAME: pyftpdlib | vsftpd | proftpd | pure-ftpd. The server runs in network namespace NETNS, in
# the foreground of its own process group (setsid; RUNDIR/NAME.pid holds its pid), listening on
# every IPv4 and IPv6 address on port N (default 21): anonymous, read-only, serving ROOTDIR;
# active and passive mode, PORT/EPRT/PASV/EPSV allowed; active-mode data from port 20 (vsftpd
# connect_from_port_20; Pure-FTPd and ProFTPD (RootRevoke off) bind the port below the control
# port; pyftpdlib uses any port); PORT/EPRT to an address other than the client's refused (each
# server's default), so active mode through NAT needs an ALG. Every command and transfer is logged
# to RUNDIR/NAME.log; the configuration the function writes is in RUNDIR too.
# --masquerade ADDR: the address the server announces in 227 replies instead of its own, the
# operators' NAT workaround without an ALG (vsftpd pasv_address, ProFTPD MasqueradeAddress,
# Pure-FTPd -P, pyftpdlib masquerade_address); IPv4 only in all four servers.
# ftp_server_start returns once the port accepts connections on 127.0.0.1 and ::1 in NETNS (at
# most FTP_SERVER_START_TIMEOUT seconds, default 60: Python under TCG needs ~4 s), else stops
# what it started and returns 1 with the reason (and the log's tail) on stderr.
# ftp_server_stop: SIGTERM to the process group (sessions too), SIGKILL after 10 s.
# The servers are background children of the calling shell: a bare `wait` there waits for them.
#
# Where the binaries come from: tests/vm/fetch-ftp-servers.sh CACHE unpacks the Debian packages
# into CACHE/ftp-servers/<name>/ (they conflict with each other as installed packages);
# FTP_SERVERS_DIR names that directory (default: $FTPALG_VM_CACHE/ftp-servers). pyftpdlib is the
# host's python3-pyftpdlib through tests/vm/ftpd.py.
#
# Pure-FTPd serves anonymous users from the home of the system user `ftp` and logs commands only
# to syslog: it runs in a private mount namespace with /etc/passwd and /etc/group replaced (bind
# mounts of copies in RUNDIR that add `ftp` with home ROOTDIR) and /dev replaced by RUNDIR/dev
# (null, zero, random, urandom bound from the real /dev, and a busybox syslogd's /dev/log writing
# RUNDIR/pure-ftpd.log). Nothing outside RUNDIR changes, on the host or in the guest.

FTP_SERVER_NAMES="pyftpdlib vsftpd proftpd pure-ftpd"
_FTPS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

_ftps_err() { echo "ftp_server: $*" >&2; }

_ftps_bin() {  # NAME: path of the unpacked server binary (empty + message if absent)
  local dir=${FTP_SERVERS_DIR:-${FTPALG_VM_CACHE:+$FTPALG_VM_CACHE/ftp-servers}} bin
  bin=$dir/$1/usr/sbin/$1
  if [ -z "$dir" ] || [ ! -x "$bin" ]; then
    _ftps_err "$1 not unpacked (${bin}); run tests/vm/fetch-ftp-servers.sh CACHE and set" \
      "FTP_SERVERS_DIR=CACHE/ftp-servers"
    return 1
  fi
  echo "$bin"
}

_ftps_conf_vsftpd() {  # ROOT RUNDIR PORT MASQ FAMILIES(4|6|46)
  local root=$1 run=$2 port=$3 masq=$4 families=$5
  # vsftpd chroots into an empty directory it insists on (root-owned, not writable by others).
  mkdir -p "$run/vsftpd-empty"
  chmod 755 "$run/vsftpd-empty"
  echo "# written by tests/vm/ftp_servers.sh"
  case "$families" in
    4) printf 'listen=YES\nlisten_ipv6=NO\n' ;;
    # One socket on :: serves IPv4 too (v4-mapped) unless net.ipv6.bindv6only=1 when it opens.
    *) printf 'listen=NO\nlisten_ipv6=YES\n' ;;
  esac
  cat <<EOF
listen_port=$port
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=$root
# The anonymous user ftp (home ROOTDIR) exists only in the server's mount namespace.
ftp_username=ftp
local_enable=NO
write_enable=NO
port_enable=YES
pasv_enable=YES
connect_from_port_20=YES
xferlog_enable=YES
xferlog_std_format=NO
log_ftp_protocol=YES
vsftpd_log_file=$run/vsftpd.log
syslog_enable=NO
secure_chroot_dir=$run/vsftpd-empty
tcp_wrappers=NO
seccomp_sandbox=NO
dirmessage_enable=NO
EOF
  [ -z "$masq" ] || printf 'pasv_address=%s\npasv_addr_resolve=NO\n' "$masq"
}

_ftps_conf_proftpd() {  # ROOT RUNDIR PORT MASQ
  local root=$1 run=$2 port=$3 masq=$4
  cat <<EOF
# written by tests/vm/ftp_servers.sh
ServerName "ftp-alg test"
ServerType standalone
DefaultServer on
Port $port
UseIPv6 on
# The namespace's host name need not resolve.
DefaultAddress 127.0.0.1
SocketBindTight off
User nobody
Group nogroup
Umask 022
PidFile $run/proftpd.daemon.pid
ScoreboardFile $run/proftpd.scoreboard
DelayEngine off
WtmpLog off
UseReverseDNS off
UseLastlog off
AuthOrder mod_auth_unix.c
# Keeps the root privilege that binding the active-mode source port (control port - 1) needs.
RootRevoke off
SystemLog $run/proftpd.log
TransferLog $run/proftpd.log
LogFormat cmds "%t %a cmd=%r code=%s"
ExtendedLog $run/proftpd.log ALL cmds
EOF
  [ -z "$masq" ] || echo "MasqueradeAddress $masq"
  cat <<EOF
<Anonymous $root>
  User nobody
  Group nogroup
  UserAlias anonymous nobody
  UserAlias ftp nobody
  RequireValidShell off
  AnonRequirePassword off
  <Limit WRITE SITE_CHMOD>
    DenyAll
  </Limit>
</Anonymous>
EOF
}

# vsftpd and Pure-FTPd take the anonymous root from the home of the system user `ftp`, and
# Pure-FTPd writes state under /run and logs commands only to syslog. They run in a private mount
# namespace (see the header) set up by this script, which then execs the server.
_ftps_private_script() {  # ROOT RUNDIR SYSLOG(0|1) BIN ARGS...
  local root=$1 run=$2 syslog=$3 bin=$4 qrun d
  shift 4
  qrun=$(printf %q "$run")
  mkdir -p "$run/run/pure-ftpd"
  { grep -vE '^(ftp|_pure-ftpd):' /etc/passwd
    echo "ftp:x:65534:65534:anonymous FTP:$root:/usr/sbin/nologin"
    echo "_pure-ftpd:x:64999:65534:Pure-FTPd privsep:/nonexistent:/usr/sbin/nologin"
  } >"$run/passwd"
  cp /etc/group "$run/group"
  echo "set -e"
  echo "mount --bind $qrun/passwd /etc/passwd"
  echo "mount --bind $qrun/group /etc/group"
  echo "mount --bind $qrun/run /run"
  if [ "$syslog" = 1 ]; then
    mkdir -p "$run/dev"
    for d in null zero random urandom; do : >"$run/dev/$d"; done
    # --rbind: the device nodes bound into RUNDIR/dev come along.
    echo "for d in null zero random urandom; do mount --bind /dev/\$d $qrun/dev/\$d; done"
    echo "mount --rbind $qrun/dev /dev"
    echo "busybox syslogd -n -O $(printf %q "$run/$(basename "$bin").log") &"
    echo "for i in \$(seq 50); do [ -S /dev/log ] && break; sleep 0.1; done"
  fi
  echo "exec $(printf '%q ' "$bin" "$@")"
}

# A process counts while it is not a zombie (a finished child the caller has not waited for).
_ftps_group_alive() {  # PGID: some live process is in the process group
  local f line rest
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    rest=${line##*) }  # after "pid (comm) ": state ppid pgrp ...
    read -r -a rest <<<"$rest"
    [ "${rest[2]}" = "$1" ] && [ "${rest[0]}" != Z ] && return 0
  done
  return 1
}

_ftps_pid_alive() {  # PID
  local line
  read -r line 2>/dev/null <"/proc/$1/stat" || return 1
  [[ ${line##*) } != Z* ]]
}

_ftps_usable() {  # NETNS PORT FAMILIES(4|6|46): the port accepts on 127.0.0.1 / ::1 in NETNS
  local probe=true
  [[ $3 != *4* ]] || probe="$probe && exec 3<>/dev/tcp/127.0.0.1/$2"
  [[ $3 != *6* ]] || probe="$probe && exec 4<>/dev/tcp/::1/$2"
  ip netns exec "$1" bash -c "$probe" >/dev/null 2>&1
}

# Starts CMD in NETNS (its own process group: ftp_server_stop ends the sessions' processes too),
# adds its pid to RUNDIR/NAME.pid and waits until PORT accepts for FAMILIES.
_ftps_launch() {  # NAME NETNS RUNDIR PORT FAMILIES CMD...
  local name=$1 ns=$2 run=$3 port=$4 families=$5 pid i
  shift 5
  # ip netns exec, setsid and unshare exec: $! is the server's pid.
  setsid ip netns exec "$ns" "$@" >>"$run/$name.out" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >>"$run/$name.pid"
  local limit=$((${FTP_SERVER_START_TIMEOUT:-60} * 10))
  for ((i = 0; i < limit; i++)); do
    if ! _ftps_pid_alive "$pid"; then
      _ftps_err "$name exited during start in $ns: $(tail -n 5 "$run/$name.out" "$run/$name.log" 2>&1)"
      return 1
    fi
    _ftps_usable "$ns" "$port" "$families" && return 0
    sleep 0.1
  done
  _ftps_err "$name in $ns: port $port did not accept (IPv$families) within" \
    "${FTP_SERVER_START_TIMEOUT:-60} s: $(tail -n 5 "$run/$name.out" "$run/$name.log" 2>&1)"
  return 1
}

# vsftpd with --masquerade: its pasv_address is ignored on a dual-stack socket (the 227 says
# 0,0,0,0 for IPv4 clients), so an IPv6-only instance (opened while the namespace's
# net.ipv6.bindv6only is 1, then restored) and an IPv4 instance with pasv_address.
_ftps_start_vsftpd_split() {  # NETNS ROOTDIR RUNDIR PORT MASQ BIN
  local ns=$1 root=$2 run=$3 port=$4 masq=$5 bin=$6 old rc
  _ftps_conf_vsftpd "$root" "$run" "$port" '' 6 >"$run/vsftpd-ipv6.conf"
  _ftps_conf_vsftpd "$root" "$run" "$port" "$masq" 4 >"$run/vsftpd.conf"
  _ftps_private_script "$root" "$run" 0 "$bin" "$run/vsftpd-ipv6.conf" >"$run/vsftpd-ipv6.sh"
  _ftps_private_script "$root" "$run" 0 "$bin" "$run/vsftpd.conf" >"$run/vsftpd.sh"
  old=$(ip netns exec "$ns" sysctl -n net.ipv6.bindv6only)
  ip netns exec "$ns" sysctl -qw net.ipv6.bindv6only=1
  _ftps_launch vsftpd "$ns" "$run" "$port" 6 unshare --mount --propagation private bash \
    "$run/vsftpd-ipv6.sh"
  rc=$?
  ip netns exec "$ns" sysctl -qw "net.ipv6.bindv6only=$old"
  [ $rc -eq 0 ] || return 1
  _ftps_launch vsftpd "$ns" "$run" "$port" 46 unshare --mount --propagation private bash \
    "$run/vsftpd.sh"
}

ftp_server_start() {  # NAME NETNS ROOTDIR RUNDIR [--port N] [--masquerade ADDR]
  local name=${1:-} ns=${2:-} root=${3:-} run=${4:-} port=21 masq='' bin='' cmd=()
  if [ $# -lt 4 ]; then
    _ftps_err "usage: ftp_server_start NAME NETNS ROOTDIR RUNDIR [--port N] [--masquerade ADDR]"
    return 2
  fi
  shift 4
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port=${2:?}; shift 2 ;;
      --masquerade) masq=${2:?}; shift 2 ;;
      *) _ftps_err "unknown option $1"; return 2 ;;
    esac
  done
  [ -d "$root" ] || { _ftps_err "$name: ROOTDIR $root is not a directory"; return 1; }
  ip netns exec "$ns" true 2>/dev/null || { _ftps_err "$name: no network namespace $ns"; return 1; }
  mkdir -p "$run" && run=$(cd "$run" && pwd) && root=$(cd "$root" && pwd)
  ip -n "$ns" link set lo up  # the readiness probe connects to 127.0.0.1 and ::1
  # Another listener would pass the readiness probe for a server that failed to bind.
  if _ftps_usable "$ns" "$port" 4 || _ftps_usable "$ns" "$port" 6; then
    _ftps_err "$name: port $port already accepts connections in $ns"
    return 1
  fi
  : >"$run/$name.log"
  rm -f "$run/$name.pid"
  case "$name" in
    pyftpdlib)
      cmd=(/usr/bin/python3 "$_FTPS_LIB_DIR/ftpd.py" --port "$port")
      [ -z "$masq" ] || cmd+=(--masquerade "$masq")
      cmd+=("$root" "$run/$name.log" "$run/$name.ready" ::)
      ;;
    vsftpd)
      bin=$(_ftps_bin vsftpd) || return 1
      if [ -n "$masq" ]; then
        _ftps_start_vsftpd_split "$ns" "$root" "$run" "$port" "$masq" "$bin" && return 0
        ftp_server_stop "$name" "$run"
        return 1
      fi
      _ftps_conf_vsftpd "$root" "$run" "$port" '' 46 >"$run/vsftpd.conf"
      _ftps_private_script "$root" "$run" 0 "$bin" "$run/vsftpd.conf" >"$run/vsftpd.sh"
      cmd=(unshare --mount --propagation private bash "$run/vsftpd.sh")
      ;;
    proftpd)
      bin=$(_ftps_bin proftpd) || return 1
      _ftps_conf_proftpd "$root" "$run" "$port" "$masq" >"$run/proftpd.conf"
      cmd=("$bin" --nodaemon --config "$run/proftpd.conf")
      ;;
    pure-ftpd)
      bin=$(_ftps_bin pure-ftpd) || return 1
      # -e anonymous only, -i no uploads, -H no DNS, -A chroot, -d log commands (syslog),
      # -O every transfer (clf); -P the 227 address.
      local args=(--bind ",$port" -e -i -H -A -d -O "clf:$run/pure-ftpd.log")
      [ -z "$masq" ] || args+=(-P "$masq")
      _ftps_private_script "$root" "$run" 1 "$bin" "${args[@]}" >"$run/pure-ftpd.sh"
      cmd=(unshare --mount --propagation private bash "$run/pure-ftpd.sh")
      ;;
    *) _ftps_err "unknown server $name (one of: $FTP_SERVER_NAMES)"; return 2 ;;
  esac
  _ftps_launch "$name" "$ns" "$run" "$port" 46 "${cmd[@]}" && return 0
  ftp_server_stop "$name" "$run"
  return 1
}

ftp_server_stop() {  # NAME RUNDIR: every process group of RUNDIR/NAME.pid
  local name=${1:?usage: ftp_server_stop NAME RUNDIR} run=${2:?usage: ftp_server_stop NAME RUNDIR}
  local pids pid i
  [ -s "$run/$name.pid" ] || return 0
  pids=$(<"$run/$name.pid")
  for pid in $pids; do kill -TERM -- "-$pid" 2>/dev/null; done
  for pid in $pids; do
    for ((i = 0; i < 100; i++)); do
      _ftps_group_alive "$pid" || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  rm -f "$run/$name.pid"
  return 0
}
