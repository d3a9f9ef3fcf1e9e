# shellcheck shell=bash
# ftp_clients.sh: the FTP clients of the interop matrix (tests/vm/interop.sh), as a library.
#
#   source tests/vm/ftp_clients.sh
#   ftpc_supported CLIENT FAMILY MODE || echo "$FTPC_REASON"     # FAMILY 4|6, MODE active|passive
#   ftpc_run CLIENT NS HOST PORT MODE DIR TRACE                   # exit code of the client
#
# Every client, in network namespace NS, logs in anonymously to HOST:PORT, downloads big.bin to
# DIR/big.bin and writes a listing of / to DIR/listing (the caller byte-compares and checks
# them), in MODE active or passive. Each keeps its own defaults otherwise (which command it sends
# for a mode and family, pipelining), with two exceptions that make the matrix strict: PASV
# clients use the address of the 227 reply where they can be told to (curl, lftp, ftplib), so
# that a missing 227 rewrite fails instead of being papered over by the client, and lftp does not
# try TLS. The command each client really sent is read off its trace (ftpc_data_commands).
#
# Clients (FTPC_CLIENTS) and how each is told the mode; all do IPv6 except ncftp:
#   curl    active: -P - (EPRT, PORT after a refused EPRT over IPv4); passive: default (EPSV, then
#           PASV), --no-ftp-skip-pasv-ip. One control connection (file, then listing).
#   lftp    ftp:passive-mode off|on; defaults otherwise: ftp:sync-mode on as shipped by Debian,
#           ftp:prefer-epsv no, so PORT/PASV over IPv4 and EPRT/EPSV over IPv6 (the only ones
#           there are). One control connection.
#   lftp-pipelined  lftp with ftp:sync-mode off: it sends PORT/EPRT and RETR (or LIST) without
#           waiting for the PORT reply (lftp 4.9.2's default is on, Debian's too; users turn it off
#           for speed). The kernel helper is known to fail active mode that way (issue 9), so it
#           is a client of its own in the matrix.
#   wget    active: --no-passive-ftp; IPv4 PORT/PASV, IPv6 EPRT/EPSV (LPRT/LPSV as fall-back).
#           Two runs: the file, then the listing (its HTML index of the LIST output).
#   ncftp   ncftpget / ncftpls, -E (PORT) or -F (PASV). No IPv6 at all in ncftp 3.2.6 (an IPv6
#           literal is "unknown host"): not supported by the client.
#   ftplib  tests/vm/ftplib_client.py: set_pasv(False|True); PORT/PASV over IPv4, EPRT/EPSV over
#           IPv6 (ftplib picks by family).
#   tnftp   the classic BSD client (Debian's `ftp`), scripted through stdin: `passive off|on`;
#           it prefers EPRT/EPSV over IPv4 too (epsv4 on by default), falling back to PORT/PASV.
#
# Timeouts tell a slow host from a hung transfer: ftpc_run watches the bytes written (downloads
# and trace); a client is stopped when nothing grew for FTPC_STALL_S (default 40) seconds, or in
# any case after FTPC_CAP_S (default 300). FTPC_END says why it ended: exit | stalled | cap.
FTPC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FTPC_LIB=$FTPC_DIR/ftp_clients.sh
FTPC_CLIENTS="curl lftp lftp-pipelined wget ncftp ftplib tnftp"
FTPC_PY=${FTPC_PY:-/usr/bin/python3}

# ftpc_supported CLIENT FAMILY MODE: 0 when the client can do it; else FTPC_REASON says why not.
ftpc_supported() {
  FTPC_REASON=
  case "$1:$2" in
    ncftp:6)
      FTPC_REASON="not supported by the client: ncftp 3.2.6 has no IPv6 (an IPv6 address is an 'unknown host')"
      return 1 ;;
  esac
  return 0
}

# ftpc_version CLIENT: one line, the program's version (for docs/interop.md).
ftpc_version() {
  case "$1" in
    curl) curl --version | head -n 1 | cut -d' ' -f1-2 ;;
    lftp) lftp --version | head -n 1 | sed 's/^LFTP | Version \([^ ]*\).*/lftp \1/' ;;
    lftp-pipelined) echo "$(ftpc_version lftp), ftp:sync-mode off" ;;
    wget) wget --version | head -n 1 | cut -d' ' -f1-3 ;;
    ncftp) ncftpget -v 2>&1 | head -n 1 ;;
    ftplib) "$FTPC_PY" -c 'import sys; print("Python ftplib", sys.version.split()[0])' ;;
    tnftp) echo "tnftp $(dpkg-query -W -f '${Version}' tnftp 2>/dev/null)" ;;
  esac
}

ftpc_url() {  # HOST PORT -> ftp://HOST:PORT (IPv6 literal in brackets)
  if [[ $1 == *:* ]]; then echo "ftp://[$1]:$2"; else echo "ftp://$1:$2"; fi
}

# --- One function per client: NS HOST PORT MODE DIR; trace on stdout/stderr ---------------------
ftpc_curl() {
  local ns=$1 url opts=()
  url=$(ftpc_url "$2" "$3")
  if [ "$4" = active ]; then opts=(-P -); else opts=(--no-ftp-skip-pasv-ip); fi
  ip netns exec "$ns" curl -v -sS --fail-early --connect-timeout 30 "${opts[@]}" \
    "$url/big.bin" -o "$5/big.bin" "$url/" -o "$5/listing"
}

ftpc_lftp() {
  local ns=$1 url pm=on
  url=$(ftpc_url "$2" "$3")
  [ "$4" = active ] && pm=off
  HOME=/tmp ip netns exec "$ns" lftp -d -c "
    set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 60; set ftp:ssl-allow no;
    set ftp:sync-mode ${FTPC_LFTP_SYNC:-on}; set ftp:passive-mode $pm;
    set ftp:fix-pasv-address no; set xfer:clobber yes;
    open -u anonymous,test@example.org $url;
    get big.bin -o $5/big.bin; ls > $5/listing"
}

ftpc_lftp_pipelined() { FTPC_LFTP_SYNC=off ftpc_lftp "$@"; }

ftpc_wget() {
  local ns=$1 url opts=(-d -t 1 -T 60) rc
  url=$(ftpc_url "$2" "$3")
  [ "$4" = active ] && opts+=(--no-passive-ftp)
  ip netns exec "$ns" wget "${opts[@]}" -O "$5/big.bin" "$url/big.bin"
  rc=$?
  [ $rc -eq 0 ] || return $rc
  # The listing: wget fetches LIST into .listing and writes an HTML index of it.
  ip netns exec "$ns" wget "${opts[@]}" --no-remove-listing -P "$5" -O "$5/listing" "$url/"
}

ftpc_ncftp() {
  local ns=$1 flag=-F rc
  [ "$4" = active ] && flag=-E
  ip netns exec "$ns" ncftpget -d stdout -V -t 60 -r 0 "$flag" -P "$3" "$2" "$5" big.bin
  rc=$?
  [ $rc -eq 0 ] || return $rc
  ip netns exec "$ns" ncftpls -d stderr -t 60 -r 0 "$flag" -l "$(ftpc_url "$2" "$3")/" >"$5/listing"
}

ftpc_ftplib() {
  ip netns exec "$1" "$FTPC_PY" "$FTPC_DIR/ftplib_client.py" "$2" "$3" "$4" "$5"
}

ftpc_tnftp() {
  local ns=$1 pm=on
  [ "$4" = active ] && pm=off
  # -n: no auto-login (the script logs in); -i: no questions (ls into a file asks otherwise);
  # -d: print every command sent ("---> PORT ...").
  printf '%s\n' "user anonymous test@example.org" binary "passive $pm" \
    "get big.bin $5/big.bin" "ls . $5/listing" quit |
    ip netns exec "$ns" tnftp -n -i -v -d "$2" "$3"
}

# --- Running one client under the progress watchdog ---------------------------------------------
ftpc_progress() {  # DIR TRACE VAR: total bytes of the files in DIR plus the trace
  local _sizes _s _total=0
  _sizes=$(find "$1" "$2" -maxdepth 1 -type f -printf '%s\n' 2>/dev/null)
  for _s in $_sizes; do _total=$((_total + _s)); done
  printf -v "$3" '%d' "$_total"
}

# ftpc_run CLIENT NS HOST PORT MODE DIR TRACE: the client's exit code (124 when the watchdog
# stopped it); FTPC_END = exit|stalled|cap, FTPC_SECS = how long it ran.
ftpc_run() {
  local client=$1 trace=$7 stall=${FTPC_STALL_S:-40} cap=${FTPC_CAP_S:-300}
  local pid start now last_change bytes last_bytes=-1 rc
  start=${EPOCHREALTIME/./}
  # A session of its own (setsid) so that the watchdog can stop the client and its children.
  setsid bash -c 'source "$0"; "$@"' "$FTPC_LIB" "ftpc_${client//-/_}" "$2" "$3" "$4" "$5" "$6" \
    >>"$trace" 2>&1 </dev/null &
  pid=$!
  last_change=$start
  FTPC_END=exit
  while kill -0 "$pid" 2>/dev/null; do
    sleep 0.5
    now=${EPOCHREALTIME/./}
    ftpc_progress "$6" "$trace" bytes
    if [ "$bytes" != "$last_bytes" ]; then last_bytes=$bytes last_change=$now; fi
    if [ $(((now - last_change) / 1000000)) -ge "$stall" ]; then FTPC_END=stalled; break; fi
    if [ $(((now - start) / 1000000)) -ge "$cap" ]; then FTPC_END=cap; break; fi
  done
  if [ "$FTPC_END" != exit ]; then
    kill -- -"$pid" 2>/dev/null
    echo "### ftpc_run: $client stopped: $FTPC_END (no progress for ${stall}s / cap ${cap}s)" \
      "at $bytes bytes" >>"$trace"
  fi
  wait "$pid"
  rc=$?
  [ "$FTPC_END" = exit ] || rc=124
  now=${EPOCHREALTIME/./}
  printf -v FTPC_SECS '%d.%d' $(((now - start) / 1000000)) $(((now - start) / 100000 % 10))
  return $rc
}

# ftpc_data_commands TRACE VAR: the data-connection commands the client sent, in order, one word
# each ("EPSV PASV" = EPSV refused, then PASV), from the client's protocol trace.
ftpc_data_commands() {
  local _line _cmds=()
  # curl "> PORT", lftp and tnftp "---> PORT", wget "--> PORT", ncftp "Cmd: PORT", ftplib
  # "*cmd* 'PORT".
  # (Locals start with _: the caller's VAR must not be shadowed.)
  local _cr=$'\r'
  local _re="^(> |---> |--> |Cmd: |[*]cmd[*] ')(PORT|EPRT|PASV|EPSV|LPRT|LPSV)([ '$_cr]|\$)"
  while IFS= read -r _line; do
    if [[ $_line =~ $_re ]]; then
      _cmds+=("${BASH_REMATCH[2]}")
    fi
  done <"$1"
  printf -v "$2" '%s' "${_cmds[*]}"
}
