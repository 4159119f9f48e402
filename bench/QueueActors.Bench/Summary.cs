using System.Globalization;
using System.Text.Json.Nodes;

namespace QueueActors.Bench;

internal sealed partial class Runner
{
    private const string RawVariantPrefix = "raw SQL, ";

    private static string F(double x, string format = "0.000") =>
        double.IsNaN(x) ? "-" : x.ToString(format, CultureInfo.InvariantCulture);

    private IEnumerable<IGrouping<(string Variant, long? Size), Figure>> Groups(string workload) =>
        _figures.Where(f => f.Workload == workload).GroupBy(f => (f.Variant, f.Size));

    private static string Verified(IEnumerable<Figure> figures) =>
        figures.All(f => !f.Extra.TryGetValue("verified", out var v) || v is true) ? "yes" : "NO";

    /// <summary>Writes refused past the busy timeout (and retried), per run.</summary>
    private static string BusyTimeouts(IEnumerable<Figure> figures) =>
        string.Join("/", figures.Select(f => f.Extra.TryGetValue("busy_timeouts", out var b) ? Convert.ToString(b, CultureInfo.InvariantCulture) : "-"));

    /// <summary>Prints every table and returns the ratios measured side by side within each run.</summary>
    private List<RatioSummary> PrintSummaries()
    {
        var ratios = new List<RatioSummary>();

        if (_figures.Any(f => f.Workload == "enqueue"))
        {
            Console.WriteLine();
            Console.WriteLine("1. enqueue");
            Table.Print(["variant", "jobs", "jobs/s", "p50 ms", "p99 ms", "stored"],
                Groups("enqueue").Select(g => (IReadOnlyList<string>)
                [
                    g.Key.Variant, g.First().Jobs.ToString(CultureInfo.InvariantCulture),
                    Spread.Of(g.Select(f => f.JobsPerSecond)).Format("0"),
                    Spread.Of(g.Select(f => f.Latency?.P50 ?? double.NaN)).Format("0.000"),
                    Spread.Of(g.Select(f => f.Latency?.P99 ?? double.NaN)).Format("0.000"),
                    Verified(g),
                ]));
        }

        if (_figures.Any(f => f.Workload == "drain"))
        {
            Console.WriteLine();
            Console.WriteLine($"2-3. drain: each job claimed (with its handle) then marked posted under its claim token; {_o.Handles} handles");
            Table.Print(["variant", "jobs", "jobs/s", "claim p50 ms", "claim p99 ms", "CPU ms/job", "WAL at end", "WAL max", "each once", "busy timeouts"],
                Groups("drain").Select(g => (IReadOnlyList<string>)
                [
                    g.Key.Variant, g.First().Jobs.ToString(CultureInfo.InvariantCulture),
                    Spread.Of(g.Select(f => f.JobsPerSecond)).Format("0"),
                    Spread.Of(g.Select(f => f.Latency?.P50 ?? double.NaN)).Format("0.00"),
                    Spread.Of(g.Select(f => f.Latency?.P99 ?? double.NaN)).Format("0.00"),
                    Spread.Of(g.Select(f => Convert.ToDouble(f.Extra["cpu_ms_per_job"], CultureInfo.InvariantCulture))).Format("0.000"),
                    Table.Bytes(Spread.Of(g.Select(f => (double)(f.WalEndBytes ?? 0))).Median),
                    Table.Bytes(Spread.Of(g.Select(f => (double)(f.WalMaxBytes ?? 0))).Max),
                    Verified(g), BusyTimeouts(g),
                ]));
            ratios.Add(DrainRatio("actor / raw", "actors, ", RawVariantPrefix + _o.Posters, "≥ 3×", 3));
            ratios.Add(DrainRatio("direct / raw", "BlueskyQueue direct, ", RawVariantPrefix + _o.Posters));
            ratios.Add(DrainRatio("actor / direct", "actors, ", "BlueskyQueue direct, "));
            if (_o.DrainVariants.Contains("raw1")) ratios.Add(DrainRatio("actor / raw 1 thread", "actors, ", "raw SQL, 1 thread"));
            Console.WriteLine("  ratios of jobs/s, taken within each run:");
            foreach (var r in ratios)
                Console.WriteLine($"    {r.Name,-22} {r.Value.Format("0.00")}×" +
                                  (r.Target is null ? "" : $"   target {r.Target}: {(r.Met == true ? "met" : "NOT met")}"));
        }

        if (_figures.Any(f => f.Workload == "processes"))
        {
            Console.WriteLine();
            Console.WriteLine($"4. {_o.ProcessJobs} jobs drained by K OS processes sharing one file ({_o.WorkerMode} workers; {_o.Posters} posters in all)");
            Table.Print(["variant", "jobs/s", "claim p50 ms", "claim p99 ms", "WAL max", "busy timeouts", "claimed once (all runs)"],
                Groups("processes").Select(g => (IReadOnlyList<string>)
                [
                    g.Key.Variant,
                    Spread.Of(g.Select(f => f.JobsPerSecond)).Format("0"),
                    Spread.Of(g.Select(f => f.Latency?.P50 ?? double.NaN)).Format("0.00"),
                    Spread.Of(g.Select(f => f.Latency?.P99 ?? double.NaN)).Format("0.00"),
                    Table.Bytes(Spread.Of(g.Select(f => (double)(f.WalMaxBytes ?? 0))).Max),
                    BusyTimeouts(g),
                    Verified(g) + $" (dup {g.Sum(f => Convert.ToInt32(f.Extra["duplicates"], CultureInfo.InvariantCulture))}, " +
                    $"missing {g.Sum(f => Convert.ToInt32(f.Extra["missing"], CultureInfo.InvariantCulture))}; " +
                    $"per process {string.Join(", ", g.Select(f => f.Extra["claimed_per_process"]))})",
                ]));
        }

        foreach (var (workload, title) in new[]
                 {
                     ("growth-history", $"5a. claim latency against history rows (posted/failed; {_o.QueuedForHistory:N0} queued)"),
                     ("growth-queued", "5b. claim latency against queued, due jobs"),
                 })
        {
            if (!_figures.Any(f => f.Workload == workload)) continue;
            Console.WriteLine();
            Console.WriteLine(title);
            Console.WriteLine("  committed: BlueskyQueue.ClaimNextAsync, its own BEGIN IMMEDIATE … COMMIT (fsync); rolled back: the claim");
            Console.WriteLine("  statement alone, timed inside BEGIN IMMEDIATE … ROLLBACK; card index only: the same claim forced onto idx_jobs_claim.");
            var rows = new List<IReadOnlyList<string>>();
            foreach (var series in GrowthSeries)
            {
                foreach (var g in Groups(workload).Where(g => g.Key.Variant == series).OrderBy(g => g.Key.Size))
                {
                    var r50 = GrowthRatio(workload, series, g.Key.Size!.Value, l => l.P50);
                    var r99 = GrowthRatio(workload, series, g.Key.Size!.Value, l => l.P99);
                    rows.Add(
                    [
                        series, g.Key.Size!.Value.ToString("N0", CultureInfo.InvariantCulture),
                        Spread.Of(g.Select(f => f.Latency!.P50)).Format("0.000"),
                        Spread.Of(g.Select(f => f.Latency!.P99)).Format("0.000"),
                        r50.Format("0.00"), r99.Format("0.00"),
                    ]);
                }
            }
            Table.Print(["series", "size", "p50 ms", "p99 ms", "p50 × smallest", "p99 × smallest"], rows);
        }
        return ratios;
    }

    private RatioSummary DrainRatio(string name, string numeratorPrefix, string denominatorPrefix, string? target = null, double? goal = null)
    {
        var perRun = _figures.Where(f => f.Workload == "drain").GroupBy(f => f.Run).Select(run =>
        {
            var a = run.FirstOrDefault(f => f.Variant.StartsWith(numeratorPrefix, StringComparison.Ordinal));
            var b = run.FirstOrDefault(f => f.Variant.StartsWith(denominatorPrefix, StringComparison.Ordinal));
            return a is null || b is null ? double.NaN : a.JobsPerSecond / b.JobsPerSecond;
        });
        var spread = Spread.Of(perRun);
        return new RatioSummary(name, spread, target, goal is { } g && spread.Runs > 0 ? spread.Median >= g : null);
    }

    /// <summary>Per run: the metric at <paramref name="size"/> over the metric at the smallest size; summarised over runs.</summary>
    private Spread GrowthRatio(string workload, string series, long size, Func<Latency, double> metric)
    {
        var figures = _figures.Where(f => f.Workload == workload && f.Variant == series).ToList();
        long smallest = figures.Min(f => f.Size!.Value);
        return Spread.Of(figures.GroupBy(f => f.Run).Select(run =>
        {
            var at = run.FirstOrDefault(f => f.Size == size);
            var baseLine = run.FirstOrDefault(f => f.Size == smallest);
            return at is null || baseLine is null ? double.NaN : metric(at.Latency!) / metric(baseLine.Latency!);
        }));
    }

    /// <summary>The issue's two targets, judged on the medians, printed and returned for the JSON.</summary>
    private JsonArray Targets(IReadOnlyList<RatioSummary> ratios)
    {
        var targets = new JsonArray();
        Console.WriteLine();
        Console.WriteLine("targets of issue 7 (judged on the medians over the runs):");
        if (ratios.FirstOrDefault(r => r.Name == "actor / raw") is { Value.Runs: > 0 } drain)
        {
            Console.WriteLine($"  actor drain ≥ 3× raw one-transaction-per-operation loop ({_o.Posters} threads): " +
                              $"{drain.Value.Format("0.00")}× → {(drain.Met == true ? "MET" : "NOT MET")}");
            targets.Add(new JsonObject
            {
                ["target"] = "actor drain >= 3x raw one-transaction-per-operation loop",
                ["median"] = drain.Value.Median, ["min"] = drain.Value.Min, ["max"] = drain.Value.Max, ["met"] = drain.Met,
            });
        }
        foreach (var (workload, sizes, goalSize) in new[]
                 {
                     ("growth-history", _o.HistorySizes, 1_000_000L),
                     ("growth-queued", _o.QueuedSizes, 100_000L),
                 })
        {
            if (!_figures.Any(f => f.Workload == workload)) continue;
            long small = sizes.Min(), large = sizes.Max();
            foreach (var series in GrowthSeries.Take(2))
            {
                var r50 = GrowthRatio(workload, series, large, l => l.P50);
                var r99 = GrowthRatio(workload, series, large, l => l.P99);
                bool met = r50.Median <= 1.5;
                string note = large < goalSize ? $" (largest size run: {large:N0}, not the issue's {goalSize:N0})" : "";
                Console.WriteLine($"  {workload}, {series}: p50 at {large:N0} = {r50.Format("0.00")}× that at {small:N0} " +
                                  $"(p99 {r99.Format("0.00")}×) → {(met ? "MET" : "NOT MET")} (≤ 1.5×){note}");
                targets.Add(new JsonObject
                {
                    ["target"] = $"{workload}: {series} p50 at {large} within 1.5x of {small}",
                    ["p50_ratio_median"] = r50.Median, ["p50_ratio_min"] = r50.Min, ["p50_ratio_max"] = r50.Max,
                    ["p99_ratio_median"] = r99.Median, ["met"] = met, ["largest_size"] = large, ["issue_size"] = goalSize,
                });
            }
        }
        return targets;
    }
}
