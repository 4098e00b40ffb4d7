"""Side-by-side CVRP quality: orderhub native (the `cvrp` example's table), orderhub
inside the wasm component through orderhub-host (POST /admin/dispatch/cvrp), PyVRP,
OR-Tools and VROOM on the same VRPLIB instances and budgets.

Two steps, called by scripts/bench-cvrp-compare:
  cvrp_compare.py wasm BASE_URL BUDGETS OUT_JSON FILES...   (the client; run off the host's core)
  cvrp_compare.py table BUDGETS NATIVE_TABLE WASM_JSON FILES...  (runs the Python solvers)

CVRP_CACHE=PATH keeps the Python solvers' results there (solver|instance|budget -> cost,
seconds); CVRP_REUSE=1 takes them from it instead of running the solvers again.
"""
import json
import math
import os
import re
import statistics
import sys
import time
import urllib.request


def read_vrplib(path):
    coords, demand, capacity, section = [], [], None, None
    for line in open(path):
        line = line.strip()
        if not line or line == "EOF":
            continue
        if ":" in line:
            key, value = (s.strip() for s in line.split(":", 1))
            if key == "CAPACITY":
                capacity = int(float(value))
            continue
        if line.endswith("SECTION"):
            section = line.split("_")[0]
            continue
        f = line.split()
        if section == "NODE" and len(f) == 3:
            coords.append((float(f[1]), float(f[2])))
        elif section == "DEMAND" and len(f) == 2:
            demand.append(int(float(f[1])))
    n = len(coords)
    dist = [[int(round(math.hypot(coords[i][0] - coords[j][0], coords[i][1] - coords[j][1]))) for j in range(n)] for i in range(n)]
    return coords, demand, capacity, dist


def best_known(path):
    for line in open(path[:-4] + ".sol"):
        if line.startswith("Cost"):
            return int(round(float(line.split()[1])))
    return None


def pyvrp_cost(path, seconds):
    import pyvrp
    from pyvrp.stop import MaxRuntime

    data = pyvrp.read(path, round_func="round")
    res = pyvrp.solve(data, stop=MaxRuntime(seconds), seed=1, display=False)
    return int(res.cost()) if res.is_feasible() else None


def vroom_cost(path, _seconds, cache={}):
    # VROOM has no time budget; it runs once at its default exploration level.
    if path in cache:
        return cache[path]
    import vroom

    coords, demand, capacity, dist = read_vrplib(path)
    problem = vroom.Input()
    problem.set_durations_matrix(profile="car", matrix_input=dist)
    fleet = int(re.search(r"-k(\d+)", path).group(1)) + 5
    for k in range(fleet):
        problem.add_vehicle(vroom.Vehicle(k + 1, start=0, end=0, capacity=[capacity]))
    for i in range(1, len(coords)):
        problem.add_job(vroom.Job(i, location=i, delivery=[demand[i]]))
    t = time.perf_counter()
    sol = problem.solve(exploration_level=5, nb_threads=1)
    done = int(getattr(sol.summary, "unassigned", 0)) == 0
    cache[path] = (int(sol.summary.cost) if done else None, time.perf_counter() - t)
    return cache[path]


def ortools_cost(path, seconds):
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    coords, demand, capacity, dist = read_vrplib(path)
    n = len(coords)
    k = int(re.search(r"-k(\d+)", path).group(1)) + 2
    manager = pywrapcp.RoutingIndexManager(n, k, 0)
    routing = pywrapcp.RoutingModel(manager)
    cb = routing.RegisterTransitCallback(lambda i, j: dist[manager.IndexToNode(i)][manager.IndexToNode(j)])
    routing.SetArcCostEvaluatorOfAllVehicles(cb)
    dem = routing.RegisterUnaryTransitCallback(lambda i: demand[manager.IndexToNode(i)])
    routing.AddDimensionWithVehicleCapacity(dem, 0, [capacity] * k, True, "load")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    params.time_limit.FromMilliseconds(int(seconds * 1000))
    sol = routing.SolveWithParameters(params)
    return int(sol.ObjectiveValue()) if sol else None


def gap(cost, bks):
    return None if cost is None else (cost - bks) / bks * 100


def post_wasm(base, path, budget_ms, token):
    req = urllib.request.Request(
        f"{base}/admin/dispatch/cvrp?budget_ms={budget_ms}&seed=1",
        data=open(path, "rb").read(),
        headers={"authorization": f"Bearer {token}"},
        method="POST",
    )
    t = time.perf_counter()
    # No proxy: the host is on loopback whatever http_proxy says.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=budget_ms / 1000 + 60) as r:
        out = json.load(r)
    out["round_trip_ms"] = (time.perf_counter() - t) * 1000
    out.pop("routes", None)
    return out


def wasm_main(base, budgets, out_path, files):
    token = os.environ["SPIN_VARIABLE_ADMIN_TOKEN"]
    results = {}
    for path in files:
        name = path.split("/")[-1][:-4]
        results[name] = {str(b): post_wasm(base, path, b, token) for b in budgets}
        print(f"wasm {name}: " + ", ".join(f"{b} ms {r['cost']}" for b, r in results[name].items()), file=sys.stderr, flush=True)
    json.dump(results, open(out_path, "w"), indent=1)


class Cache:
    """The Python solvers' results, so a rerun of orderhub's columns can reuse them."""

    def __init__(self):
        self.path = os.environ.get("CVRP_CACHE")
        self.reuse = os.environ.get("CVRP_REUSE") == "1"
        self.data = {}
        if self.path and os.path.exists(self.path):
            self.data = json.load(open(self.path))

    def get(self, solver, path, budget_ms, run):
        key = f"{solver}|{path.split('/')[-1]}|{budget_ms}"
        if not (self.reuse and key in self.data):
            t = time.perf_counter()
            cost = run()
            self.data[key] = [cost, time.perf_counter() - t]
            if self.path:
                json.dump(self.data, open(self.path, "w"), indent=0)
        return self.data[key]


def parse_native(table):
    """`cost (gap%) N it` cells of the example's markdown table -> {name: [(gap, iters)]}."""
    ours = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0].startswith("X-"):
            row = []
            for c in cells[2:]:
                m = re.search(r"\(([-\d.]+)%\)(?: (\d+) it)?", c)
                row.append((float(m.group(1)), int(m.group(2) or 0)) if m else (None, None))
            ours[cells[0]] = row
    return ours


def fmt(g):
    return "-" if g is None else f"{g:.2f}%"


def table_main(budgets, native_table, wasm_json, files):
    native = parse_native(native_table)
    wasm = json.load(open(wasm_json)) if wasm_json and os.path.exists(wasm_json) else {}
    cache = Cache()
    solvers = ("native", "wasm", "PyVRP", "OR-Tools")
    head = ["instance"] + [f"{s} {b} ms" for b in budgets for s in solvers] + ["VROOM (one run)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    gaps, iters, elapsed, rel = {}, {}, {}, {}
    for path in files:
        name = path.split("/")[-1][:-4]
        bks = best_known(path)
        row = [name]
        for k, b in enumerate(budgets):
            ng, ni = (native.get(name) or [(None, None)] * len(budgets))[k]
            w = wasm.get(name, {}).get(str(b))
            wg = gap(w["cost"], bks) if w and w["feasible"] else None
            pc, _ = cache.get("PyVRP", path, b, lambda: pyvrp_cost(path, b / 1000))
            oc, _ = cache.get("OR-Tools", path, b, lambda: ortools_cost(path, b / 1000))
            cells = {"native": ng, "wasm": wg, "PyVRP": gap(pc, bks), "OR-Tools": gap(oc, bks)}
            for s, g in cells.items():
                row.append(fmt(g) if s != "wasm" or not w or w["feasible"] else "INVALID")
                if g is not None:
                    gaps.setdefault((s, b), []).append(g)
            if w and ni:
                iters.setdefault(b, []).append(w["iterations"] / ni)
                elapsed.setdefault(b, []).append(w["elapsed_ms"])
            # Cost relative to PyVRP's on the same instance: (1 + gap) / (1 + PyVRP's gap).
            for s in ("native", "wasm"):
                if cells[s] is not None and cells["PyVRP"] is not None:
                    rel.setdefault((s, b), []).append(((100 + cells[s]) / (100 + cells["PyVRP"]) - 1) * 100)
        vc, vt = cache.get("VROOM", path, 0, lambda: vroom_cost(path, 0)[0])
        vg = gap(vc, bks)
        if vg is not None:
            gaps.setdefault(("VROOM", 0), []).append(vg)
        row.append(fmt(vg) + f" in {vt * 1000:.0f} ms")
        print("| " + " | ".join(row) + " |", flush=True)
    mean = lambda v: sum(v) / len(v) if v else None
    row = ["**mean**"] + [fmt(mean(gaps.get((s, b), []))) for b in budgets for s in solvers] + [fmt(mean(gaps.get(("VROOM", 0), [])))]
    print("| " + " | ".join(row) + " |")
    print()
    print("| budget | mean gap native | mean gap wasm | mean gap PyVRP | wasm/native gap | native cost vs PyVRP | wasm cost vs PyVRP | wasm/native iterations (median) | wasm solve time (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for b in budgets:
        gn, gw, gp = (mean(gaps.get((s, b), [])) for s in ("native", "wasm", "PyVRP"))
        ratio = f"{gw / gn:.2f}" if gn and gw is not None else "-"
        rn, rw = (mean(rel.get((s, b), [])) for s in ("native", "wasm"))
        sign = lambda v: "-" if v is None else f"{v:+.2f}%"
        it = f"{statistics.median(iters[b]):.2f}" if iters.get(b) else "-"
        el = f"{statistics.median(elapsed[b]):.1f} ms" if elapsed.get(b) else "-"
        print(f"| {b} ms | {fmt(gn)} | {fmt(gw)} | {fmt(gp)} | {ratio} | {sign(rn)} | {sign(rw)} | {it} | {el} |")


def main():
    if sys.argv[1] == "wasm":
        base, budgets, out = sys.argv[2], [int(b) for b in sys.argv[3].split(",")], sys.argv[4]
        wasm_main(base, budgets, out, sys.argv[5:])
    else:
        budgets = [int(b) for b in sys.argv[2].split(",")]
        table_main(budgets, sys.argv[3], sys.argv[4], sys.argv[5:])


if __name__ == "__main__":
    main()
