# Sourced by training.sh and embedding.sh, which run a LibTorch program and its Python PyTorch
# peer per configuration and collect "benchmark|AstroCLIP|peer|ratio" rows in `rows`.
py=/usr/bin/python3
threads=$(nproc)
field() { $py -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
mib() { echo "$1 / 1048576" | bc -l | xargs printf '%.0f'; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()

# print_torch_rows MODE WHAT: MODE --table prints a Markdown table with the machine, LibTorch and
# load; anything else prints the bare rows for packaging/bench.sh (load on stderr).
print_torch_rows() {
  local load_after
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  if [[ "$1" == "--table" ]]; then
    printf '\n| benchmark | AstroCLIP (LibTorch) | peer | ratio (ours/peer) |\n|---|---|---|---|\n'
    for r in "${rows[@]}"; do echo "| ${r//|/ | } |"; done
    echo
    echo "machine: $threads cores, $(lscpu | sed -n 's/^Model name: *//p'); LibTorch $($py -c 'import torch; print(torch.__version__)')"
    echo "load average (1/5/15 min) before: $load_before, after: $load_after"
  else
    printf '%s\n' "${rows[@]}"
    echo "load during the $2 benchmark (1/5/15 min): before $load_before, after $load_after" >&2
  fi
}
