# Shared shell helpers for scripts/: free ports and private servers started
# in a temporary folder, stopped by PID on exit. Source it; don't run it.

# Prints a free TCP port on 127.0.0.1.
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_redis DIR PORT: starts a private redis-server, waits for PING.
start_redis() {
  local dir=$1 port=$2
  redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
    --daemonize no > "$dir/redis.log" 2>&1 &
  echo $! > "$dir/redis.pid"
  for _ in $(seq 1 100); do
    redis-cli -p "$port" ping > /dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server on port $port did not start; see $dir/redis.log" >&2
  return 1
}

# stop_pidfile FILE: SIGTERM the process named in FILE, SIGKILL after 5 s.
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  kill -TERM "$pid" 2> /dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2> /dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null || true
}
