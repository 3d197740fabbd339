#!/usr/bin/env bash
# bench/cluster.sh: checks/s of one and of two `patchwire serve` nodes behind nginx, on this machine
# (issue 12; README "Running more than one node"). `make bench-cluster` runs it.
#
# In a temporary directory, removed on exit: PostgreSQL (the shared catalog; initdb/pg_ctl from PATH,
# /usr/local/bin or /usr/lib/postgresql/*/bin, run as `nobody` when this runs as root, since initdb
# refuses root), versitygw (the shared S3 bucket), two nodes sharing one TLS certificate and signing key,
# and nginx as the HTTPS load balancer in front (HTTP/2 to clients, HTTPS upstreams with keepalive).
# Then `patchwire bench load --server https://LB` (HTTP/2 phases, no ceilings) with nginx balancing
# ONE node, then TWO, with the nodes' default --catalog-recheck 0 and again with --catalog-recheck 1s.
# Writes OUT (default bench/results/cluster.md): req/s per scenario for 1 and 2 nodes, the ratio 2/1,
# and the CPU seconds of every process (from /proc) in each run.
#
#   bench/cluster.sh [--duration 10s] [--concurrency 64] [--devices 1000] [--bin bin/patchwire] [--out FILE]
#                    [--catalog-params K=V&...]   (added to the nodes' --catalog URL, e.g. pool_max_conns=32)
set -euo pipefail

DURATION=10s
CONCURRENCY=64
DEVICES=1000
BIN=bin/patchwire
OUT=bench/results/cluster.md
PARAMS=
usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
	case "$1" in
	--duration) DURATION=$2; shift 2 ;;
	--concurrency) CONCURRENCY=$2; shift 2 ;;
	--devices) DEVICES=$2; shift 2 ;;
	--bin) BIN=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--catalog-params) PARAMS=$2; shift 2 ;;
	-h | --help) usage 0 ;;
	*) echo "bench/cluster.sh: unknown argument $1" >&2; usage 2 >&2 ;;
	esac
done

say() { printf 'cluster: %s\n' "$*" >&2; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------------------------------
[ -x "$BIN" ] || die "$BIN not found: run make build (or give --bin)"
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
command -v nginx >/dev/null || die "nginx not installed (Debian: apt-get install nginx-light)"
command -v curl >/dev/null || die "curl not installed (Debian: apt-get install curl)"
pgbin() {
	local p
	if p=$(command -v "$1"); then echo "$p"; return; fi
	for p in "/usr/local/bin/$1" $(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -rV); do
		[ -x "$p" ] && { echo "$p"; return; }
	done
	die "$1 not found (Debian: apt-get install postgresql)"
}
INITDB=$(pgbin initdb)
PG_CTL=$(pgbin pg_ctl)
VERSITYGW=$(command -v versitygw || echo "$(go env GOPATH 2>/dev/null)/bin/versitygw")
[ -x "$VERSITYGW" ] || die "versitygw not found: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"
secs=${DURATION%s}
[[ "$DURATION" =~ ^[0-9]+s$ ]] || die "--duration $DURATION: want whole seconds, e.g. 10s"

# --- temporary directory, and everything stopped on exit ---------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/patchwire-cluster.XXXXXX")
chmod 755 "$TMP" # PostgreSQL and nginx's workers run as nobody when this runs as root
PIDS=()          # the processes started here, stopped in reverse order
AS=()            # how PostgreSQL's tools are run: as nobody when root
if [ "$(id -u)" = 0 ]; then AS=(runuser -u nobody --); fi
cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do kill "${PIDS[i]}" 2>/dev/null || true; done
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do wait "${PIDS[i]}" 2>/dev/null || true; done
	[ -f "$TMP/pg/data/postmaster.pid" ] && "${AS[@]}" "$PG_CTL" stop -D "$TMP/pg/data" -m fast -s >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap cleanup EXIT
# forget PID: PID was stopped here, so cleanup leaves it (its number may be reused).
forget() {
	local i
	for i in "${!PIDS[@]}"; do [ "${PIDS[i]}" != "$1" ] || unset 'PIDS[i]'; done
	PIDS=("${PIDS[@]}")
}
trap 'exit 130' INT TERM

# free_port prints a TCP port nothing on 127.0.0.1 listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 40000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

# wait_for FILE TEXT WHAT: until FILE holds TEXT (30 s).
wait_for() {
	local i
	for ((i = 0; i < 300; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return
		sleep 0.1
	done
	cat "$1" >&2 || true
	die "$3 did not start within 30 s"
}

# --- PostgreSQL: the shared catalog ------------------------------------------------------------------
PGPORT=$(free_port)
mkdir "$TMP/pg"
[ ${#AS[@]} = 0 ] || chown nobody "$TMP/pg"
say "PostgreSQL on 127.0.0.1:$PGPORT ($("$PG_CTL" --version))"
"${AS[@]}" "$INITDB" -A trust -U postgres -E UTF8 --no-sync -D "$TMP/pg/data" >"$TMP/pg/initdb.log" 2>&1 ||
	{ cat "$TMP/pg/initdb.log" >&2; die "initdb failed"; }
"${AS[@]}" "$PG_CTL" start -w -t 60 -s -D "$TMP/pg/data" -l "$TMP/pg/postgres.log" \
	-o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $TMP/pg -c max_connections=200" ||
	{ cat "$TMP/pg/postgres.log" >&2; die "pg_ctl start failed"; }
PGPID=$(head -1 "$TMP/pg/data/postmaster.pid")
CATALOG="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable${PARAMS:+&$PARAMS}"

# --- versitygw: the shared bucket --------------------------------------------------------------------
S3PORT=$(free_port)
mkdir "$TMP/s3"
export AWS_ACCESS_KEY_ID=pw AWS_SECRET_ACCESS_KEY=pwsecret123
say "versitygw on 127.0.0.1:$S3PORT"
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
	"$VERSITYGW" --port "127.0.0.1:$S3PORT" posix "$TMP/s3" >"$TMP/versitygw.log" 2>&1 &
S3PID=$!
PIDS+=("$S3PID")
for ((i = 0; i < 300; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$S3PORT") 2>/dev/null && break; sleep 0.1; done
# CreateBucket, signed by curl (the SHA-256 of the empty body is a header S3 wants).
curl -fsS -X PUT --aws-sigv4 aws:amz:us-east-1:s3 --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
	-H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
	"http://127.0.0.1:$S3PORT/patchwire" >/dev/null || die "could not make the bucket on versitygw"
OBJECTS="s3://patchwire/objects?endpoint=http://127.0.0.1:$S3PORT&region=us-east-1"

# --- the nodes ---------------------------------------------------------------------------------------
NODE_PID=() NODE_ADDR=()
# start_node I RECHECK: `patchwire serve` on its own data dir, over the shared catalog and bucket.
# Device rate limits are off (the whole load comes from one address), and so are GC and scrub.
start_node() {
	local i=$1 dir=$TMP/node$1 log=$TMP/node$1.log
	mkdir -p "$dir"
	: >"$log" # emptied here, before the start, so wait_for never reads an earlier start's banner
	"$BIN" serve --data "$dir" --addr 127.0.0.1:0 --no-http3 --log-level warn \
		--catalog "$CATALOG" --catalog-recheck "$2" --objects "$OBJECTS" --trusted-proxy 127.0.0.1/32 \
		--device-rate 0 --device-rate-per-device 0 --gc-interval 0 --scrub-interval 0 >>"$log" 2>&1 &
	NODE_PID[i]=$!
	PIDS+=("$!")
	wait_for "$log" "HTTPS (HTTP/1.1, HTTP/2):" "node $i"
	NODE_ADDR[i]=$(sed -n 's|.*HTTPS (HTTP/1.1, HTTP/2): *https://||p' "$log" | head -1)
	[ -n "${NODE_ADDR[i]}" ] || { cat "$log" >&2; die "node $i printed no address"; }
}
stop_node() {
	kill "${NODE_PID[$1]}"
	wait "${NODE_PID[$1]}" 2>/dev/null || true
	forget "${NODE_PID[$1]}"
}

# --- nginx: the load balancer ------------------------------------------------------------------------
LBPORT=$(free_port)
LB=https://127.0.0.1:$LBPORT
mkdir "$TMP/nginx"
NGINX_PID=
# start_nginx N: nginx balancing the first N nodes.
start_nginx() {
	local upstreams="" i
	for ((i = 1; i <= $1; i++)); do upstreams+="		server ${NODE_ADDR[i]};"$'\n'; done
	cat >"$TMP/nginx/nginx.conf" <<-EOF
		worker_processes auto;
		daemon off;
		pid $TMP/nginx/nginx.pid;
		error_log $TMP/nginx/error.log warn;
		events { worker_connections 4096; }
		http {
			access_log off;
			client_body_temp_path $TMP/nginx/body;
			proxy_temp_path $TMP/nginx/proxy;
			fastcgi_temp_path $TMP/nginx/fastcgi;
			uwsgi_temp_path $TMP/nginx/uwsgi;
			scgi_temp_path $TMP/nginx/scgi;
			keepalive_requests 1000000;
			upstream patchwire {
		$upstreams
				keepalive 128;
				keepalive_requests 1000000;
			}
			server {
				listen 127.0.0.1:$LBPORT ssl http2;
				ssl_certificate $TMP/node1/tls-cert.pem;
				ssl_certificate_key $TMP/node1/tls-key.pem;
				client_max_body_size 0;
				location / {
					proxy_pass https://patchwire;
					proxy_http_version 1.1;
					proxy_set_header Connection "";
					proxy_set_header Host \$http_host;
					proxy_set_header X-Forwarded-For \$remote_addr;
					proxy_set_header X-Forwarded-Proto https;
					proxy_set_header X-Forwarded-Host \$http_host;
					proxy_ssl_session_reuse on;
					proxy_request_buffering off;
				}
			}
		}
	EOF
	nginx -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
	NGINX_PID=$!
	PIDS+=("$!")
	for ((i = 0; i < 300; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$LBPORT") 2>/dev/null && return; sleep 0.1; done
	cat "$TMP/nginx/error.log" >&2
	die "nginx did not start"
}
stop_nginx() {
	kill -QUIT "$NGINX_PID"
	wait "$NGINX_PID" 2>/dev/null || true
	forget "$NGINX_PID"
}

# --- CPU seconds, from /proc -------------------------------------------------------------------------
TICK=$(getconf CLK_TCK)
# cpu_ticks PID: user+system ticks of PID and its descendants, the reaped children included.
cpu_ticks() {
	local pids
	pids=$(ps -e -o pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2 }
		END { for (p in parent) { q = p; while (q != "" && q != root && q > 1) q = parent[q]; if (q == root) print p } }')
	for p in $pids; do sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null || true; done |
		awk '{ t += $12 + $13 + $14 + $15 } END { print t + 0 }'
}
# machine_ticks: busy ticks of all CPUs (user, nice, system, irq, softirq, steal), from /proc/stat.
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
# The measured processes, by name.
PROCS=(nginx node1 node2 postgres versitygw)
proc_pid() {
	case $1 in
	nginx) echo "$NGINX_PID" ;;
	node1) echo "${NODE_PID[1]}" ;;
	node2) echo "${NODE_PID[2]}" ;;
	postgres) echo "$PGPID" ;;
	versitygw) echo "$S3PID" ;;
	esac
}

# --- the runs ----------------------------------------------------------------------------------------
ADMIN_KEY=
RUNS=()            # "nodes recheck" of each run, in order
declare -A CPU     # "run proc" -> CPU seconds
declare -A WALL    # run -> seconds
declare -A LOAD    # run -> the 1-minute load average before → after
declare -A ROW     # "run scenario" -> "req/s p99 errors"
SCENARIOS=()
# bench_load NAME DURATION: `patchwire bench load` through the load balancer into $TMP/NAME.md.
bench_load() {
	"$BIN" bench load --server "$LB" --admin-key "$ADMIN_KEY" --ca "$TMP/node1/tls-cert.pem" --no-ceilings --no-http3 --no-http1 --no-h2load \
		--duration "$2" --concurrency "$CONCURRENCY" --devices "$DEVICES" --out "$TMP" --name "$1" >"$TMP/$1.out" 2>&1 ||
		{ cat "$TMP/$1.out" >&2; die "bench load ($1) failed"; }
}
# run NODES RECHECK: one measured `bench load` with nginx balancing NODES nodes.
run() {
	local name="$1-$2" p t0 t1 before=() s
	start_nginx "$1"
	say "run: nginx balancing $1 node(s), --catalog-recheck $2, 5 phases of $DURATION"
	for p in "${PROCS[@]}"; do before+=("$(cpu_ticks "$(proc_pid "$p")")"); done
	local m0 m1 l0
	m0=$(machine_ticks) l0=$(cut -d' ' -f1 /proc/loadavg)
	t0=$(date +%s.%N)
	bench_load "$name" "$DURATION"
	t1=$(date +%s.%N)
	m1=$(machine_ticks)
	LOAD[$name]="$l0 → $(cut -d' ' -f1 /proc/loadavg)"
	CPU["$name machine"]=$(awk -v a="$m0" -v b="$m1" -v hz="$TICK" 'BEGIN { printf "%.1f", (b - a) / hz }')
	local i=0
	for p in "${PROCS[@]}"; do
		CPU["$name $p"]=$(awk -v a="${before[i]}" -v b="$(cpu_ticks "$(proc_pid "$p")")" -v hz="$TICK" 'BEGIN { printf "%.1f", (b - a) / hz }')
		i=$((i + 1))
	done
	WALL[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	# The generator's own CPU: the "load-gen CPU s" column of its report.
	CPU["$name load generator"]=$(awk -F'|' '$3 ~ /patchwire/ && $4 ~ /HTTP/ { t += $11 } END { printf "%.1f", t }' "$TMP/$name.md")
	while IFS='|' read -r _ scen target proto rps _ p99 errs _; do
		scen=$(echo $scen)
		ROW["$name $scen"]="$(echo $rps) $(echo $p99) $(echo $errs)"
		[ "$2$1" = "01" ] && SCENARIOS+=("$scen")
	done < <(grep -E '^\| [a-z -]+ \| patchwire \| HTTP/2 \|' "$TMP/$name.md")
	RUNS+=("$name")
	stop_nginx
	say "  $(for s in "${SCENARIOS[@]}"; do printf '%s %s/s; ' "$s" "${ROW["$name $s"]%% *}"; done)"
}

for recheck in 0 1s; do
	start_node 1 "$recheck"
	if [ ! -f "$TMP/node2/signing.key" ]; then
		# One TLS certificate and signing key for every node (README), made by node 1.
		mkdir -p "$TMP/node2"
		cp "$TMP/node1/tls-cert.pem" "$TMP/node1/tls-key.pem" "$TMP/node1/signing.key" "$TMP/node2/"
		ADMIN_KEY=$(cat "$TMP/node1/admin.key")
	fi
	start_node 2 "$recheck"
	say "nodes: https://${NODE_ADDR[1]}, https://${NODE_ADDR[2]} (--catalog-recheck $recheck); nginx: $LB"
	if [ "$recheck" = 0 ]; then
		# Seeds the app through the balancer (two bundles, a public channel, their patches) and warms
		# both nodes; not reported.
		start_nginx 2
		say "warm-up: seeding through nginx, 1 s phases"
		bench_load warmup 1s
		stop_nginx
	fi
	run 1 "$recheck"
	run 2 "$recheck"
	stop_node 2
	stop_node 1
done

# --- the report --------------------------------------------------------------------------------------
mkdir -p "$(dirname "$OUT")"
cpus=$(nproc)
model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
	echo "# patchwire cluster benchmark: one node vs two behind nginx"
	echo
	echo "Made by \`bench/cluster.sh --duration $DURATION --concurrency $CONCURRENCY --devices $DEVICES${PARAMS:+ --catalog-params '$PARAMS'}\` (\`make bench-cluster\`) on $(date -u '+%Y-%m-%d %H:%M UTC'):"
	echo "$cpus CPUs (${model:-unknown}), $(uname -sr), $(nginx -v 2>&1 | sed 's/^nginx version: //'), $("$PG_CTL" --version | sed 's/^pg_ctl (PostgreSQL) /PostgreSQL /'), versitygw."
	echo
	echo "Everything runs on this one machine: the load generator (\`patchwire bench load --server https://LB --no-ceilings --no-http3\`,"
	echo "$DEVICES devices, $CONCURRENCY requests in flight over HTTP/2, $DURATION per scenario), nginx (HTTPS load balancer, HTTP/2 to"
	echo "the generator, HTTPS/1.1 upstreams with keepalive), two \`patchwire serve\` nodes (\`--catalog\` PostgreSQL, \`--objects\`"
	echo "versitygw, one TLS certificate and signing key), PostgreSQL and versitygw. \"1 node\": nginx balances node 1 alone (node 2 runs,"
	echo "idle); \"2 nodes\": nginx balances both. \`--catalog-recheck 0\` (the default) reads PostgreSQL's generation row on every check;"
	echo "\`1s\` trusts the in-memory generation (moved by LISTEN/NOTIFY) for up to a second."
	echo
	echo "## Requests per second"
	echo
	echo "| scenario | --catalog-recheck | 1 node: req/s, p99 ms | 2 nodes: req/s, p99 ms | 2 nodes / 1 node |"
	echo "|---|---|---|---|---|"
	for recheck in 0 1s; do
		for s in "${SCENARIOS[@]}"; do
			read -r r1 p1 e1 <<<"${ROW["1-$recheck $s"]:-0 0 0}"
			read -r r2 p2 e2 <<<"${ROW["2-$recheck $s"]:-0 0 0}"
			err=""
			[ "$e1$e2" = "00" ] || err=" (errors: $e1, $e2)"
			echo "| $s | $recheck | $r1, $p1 | $r2, $p2 | **$(awk -v a="$r1" -v b="$r2" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')×**$err |"
		done
	done
	echo
	echo "## CPU seconds per process in each run"
	echo
	echo "Each run is 5 scenarios of $DURATION. \"available\": the run's wall-clock seconds × $cpus CPUs; \"rest of the machine\": the"
	echo "busy CPU seconds of all CPUs (/proc/stat) less this benchmark's processes, i.e. what other work on the machine took;"
	echo "\"machine busy\": all CPUs' busy time over the available. Near 100 % the cores, not one process, bound req/s, and a second"
	echo "node can only split the same CPU; a large rest means the figures were measured on a busy machine. \"Total CPU µs per"
	echo "request\": this benchmark's CPU seconds (generator, nginx, nodes, PostgreSQL, versitygw) over the run's requests."
	echo
	printf '| run | wall s | available CPU s | load generator | nginx | node 1 | node 2 | PostgreSQL | versitygw | total | rest of the machine | machine busy | total CPU µs per request | load average |\n'
	printf '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
	for name in "${RUNS[@]}"; do
		total=0
		line=""
		for p in "load generator" "${PROCS[@]}"; do
			line+=" ${CPU["$name $p"]} |"
			total=$(awk -v a="$total" -v b="${CPU["$name $p"]}" 'BEGIN { printf "%.1f", a + b }')
		done
		avail=$(awk -v w="${WALL[$name]}" -v c="$cpus" 'BEGIN { printf "%.1f", w * c }')
		rest=$(awk -v m="${CPU["$name machine"]}" -v t="$total" 'BEGIN { r = m - t; if (r < 0) r = 0; printf "%.1f", r }')
		nodes=${name%%-*}
		label="$nodes node"
		[ "$nodes" = 1 ] || label+=s
		busy=$(awk -v m="${CPU["$name machine"]}" -v a="$avail" 'BEGIN { printf "%.0f %%", 100 * m / a }')
		reqs=0
		for sc in "${SCENARIOS[@]}"; do reqs=$(awk -v a="$reqs" -v r="${ROW["$name $sc"]%% *}" -v d="$secs" 'BEGIN { print a + r * d }'); done
		per=$(awk -v t="$total" -v n="$reqs" 'BEGIN { if (n > 0) printf "%.0f", 1e6 * t / n; else print "-" }')
		echo "| $label, recheck ${name#*-} | ${WALL[$name]} | $avail |$line $total | $rest | $busy | $per | ${LOAD[$name]} |"
	done
	echo
	for recheck in 0 1s; do
		printf -- '- Largest CPU users with 2 nodes, recheck %s: ' "$recheck"
		for p in "load generator" "${PROCS[@]}"; do echo "${CPU["2-$recheck $p"]} $p"; done | sort -rn | head -3 |
			awk '{ c = $1; $1 = ""; printf "%s%s (%s s)", (NR > 1 ? ", " : ""), substr($0, 2), c } END { print "." }'
	done
	echo
	echo "On a machine with few cores the generator, nginx, PostgreSQL and both nodes take their CPU from the same cores, so the 2/1"
	echo "ratio says more about how the cores are shared than about how the design scales: a second node can only add throughput"
	echo "when the first node's process, not the machine, was the bound. Spread over machines (or pinned to separate cores) the"
	echo "nodes share only PostgreSQL: at recheck 0 every check reads the generation rows there (its CPU column), at 1s a node"
	echo "reads them at most once a second while the notices flow."
} >"$OUT"
say "wrote $OUT"
cat "$OUT"
