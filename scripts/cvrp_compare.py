"""Run PyVRP, VROOM and OR-Tools on VRPLIB instances and print one table with orderhub's
figures (passed in as the markdown table the `cvrp` example printed).

Usage (from scripts/bench-cvrp-compare): cvrp_compare.py BUDGETS OURS_TABLE FILES...
"""
import math
import re
import sys
import time


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


def main():
    budgets = [int(b) for b in sys.argv[1].split(",")]
    ours = {}
    for line in sys.argv[2].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0].startswith("X-"):
            ours[cells[0]] = [float(m.group(1)) if (m := re.search(r"\(([-\d.]+)%\)", c)) else None for c in cells[2:]]
    files = sys.argv[3:]
    head = ["instance"] + [f"{s} {b} ms" for b in budgets for s in ("orderhub", "PyVRP", "OR-Tools")] + ["VROOM (one run)"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    sums = {}
    for path in files:
        name = path.split("/")[-1][:-4]
        bks = best_known(path)
        row = [name]
        for k, b in enumerate(budgets):
            cells = {
                "orderhub": (ours.get(name) or [None] * len(budgets))[k],
                "PyVRP": gap(pyvrp_cost(path, b / 1000), bks),
                "OR-Tools": gap(ortools_cost(path, b / 1000), bks),
            }
            for s, g in cells.items():
                row.append("-" if g is None else f"{g:.2f}%")
                if g is not None:
                    sums.setdefault((s, b), []).append(g)
        vc, vt = vroom_cost(path, 0)
        vg = gap(vc, bks)
        if vg is not None:
            sums.setdefault(("VROOM", 0), []).append(vg)
        row.append(("-" if vg is None else f"{vg:.2f}%") + f" in {vt * 1000:.0f} ms")
        print("| " + " | ".join(row) + " |", flush=True)
    mean = lambda v: f"{sum(v) / len(v):.2f}%" if v else "-"
    row = ["**mean**"] + [mean(sums.get((s, b), [])) for b in budgets for s in ("orderhub", "PyVRP", "OR-Tools")] + [mean(sums.get(("VROOM", 0), []))]
    print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
