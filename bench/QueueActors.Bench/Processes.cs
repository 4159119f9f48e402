using System.Diagnostics;
using System.Globalization;

namespace QueueActors.Bench;

internal sealed partial class Runner
{
    // ---- 4. K OS processes draining one file ----

    private async Task ProcessesAsync(int run)
    {
        foreach (int k in _o.ProcessCounts)
        {
            var (db, ids) = await SeedAsync($"processes-{k}", _o.ProcessJobs, $"r{run}-k{k}-");
            // The P posters are split over the K processes; poster i of process w works handle (w*P/K + i) % H.
            int perWorker = Math.Max(1, _o.Posters / k);
            var workers = new List<(Process Process, string Out, Task<List<string>> Lines, Task<string> Stderr, TaskCompletionSource Ready, TaskCompletionSource Finished)>();
            var errors = new List<string>();
            try
            {
                for (int w = 0; w < k; w++)
                {
                    var info = Worker.StartInfo();
                    string output = Path.Combine(_o.WorkDir, $"worker-{run}-{k}-{w}");
                    foreach (var a in new[]
                             {
                                 "--db", db, "--out", output, "--mode", _o.WorkerMode, "--posters", perWorker.ToString(CultureInfo.InvariantCulture),
                                 "--handles", _o.Handles.ToString(CultureInfo.InvariantCulture),
                                 "--offset", (w * perWorker).ToString(CultureInfo.InvariantCulture),
                                 "--sync", RawSql.SyncPragma(_o.Sync).ToLowerInvariant(),
                             })
                        info.ArgumentList.Add(a);
                    var process = Process.Start(info) ?? throw new InvalidOperationException("cannot start a worker process");
                    var stderr = process.StandardError.ReadToEndAsync();
                    var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    var lines = Task.Run(async () =>
                    {
                        var seen = new List<string>();
                        while (await process.StandardOutput.ReadLineAsync() is { } line)
                        {
                            seen.Add(line);
                            if (line == "ready") ready.TrySetResult();
                            else if (line == "finished") finished.TrySetResult();
                            else if (line == "failed")
                            {
                                ready.TrySetResult();
                                finished.TrySetResult();
                            }
                        }
                        ready.TrySetResult();
                        finished.TrySetResult();
                        return seen;
                    });
                    workers.Add((process, output, lines, stderr, ready, finished));
                }

                await Task.WhenAll(workers.Select(w => w.Ready.Task)).WaitAsync(TimeSpan.FromMinutes(2));
                var clock = Stopwatch.StartNew();
                foreach (var w in workers)
                {
                    await w.Process.StandardInput.WriteLineAsync("go");
                    await w.Process.StandardInput.FlushAsync();
                }
                await Task.WhenAll(workers.Select(w => w.Finished.Task)).WaitAsync(TimeSpan.FromMinutes(30));
                var elapsed = clock.Elapsed;
                foreach (var w in workers)
                {
                    await w.Process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
                    string stderr = await w.Stderr;
                    if (w.Process.ExitCode != 0)
                        errors.Add($"worker exited with {w.Process.ExitCode}: {stderr.Trim()}");
                }

                var claimed = new List<string>();
                var latencies = new List<double>();
                var perProcess = new List<int>();
                long walMax = 0, walEnd = 0;
                int busyTimeouts = 0;
                foreach (var w in workers)
                {
                    var mine = File.Exists(w.Out + ".ids") ? await File.ReadAllLinesAsync(w.Out + ".ids") : [];
                    claimed.AddRange(mine);
                    perProcess.Add(mine.Length);
                    if (File.Exists(w.Out + ".lat"))
                        latencies.AddRange((await File.ReadAllLinesAsync(w.Out + ".lat"))
                            .Select(l => double.Parse(l, CultureInfo.InvariantCulture)));
                    var done = (await w.Lines).LastOrDefault(l => l.StartsWith("done ", StringComparison.Ordinal));
                    if (done?.Split(' ') is [_, _, _, var end, var max, var busy])
                    {
                        walEnd = Math.Max(walEnd, long.Parse(end, CultureInfo.InvariantCulture));
                        walMax = Math.Max(walMax, long.Parse(max, CultureInfo.InvariantCulture));
                        busyTimeouts += int.Parse(busy, CultureInfo.InvariantCulture);
                    }
                    foreach (var f in new[] { w.Out + ".ids", w.Out + ".lat" }) File.Delete(f);
                }
                var check = Verify(ids, claimed);
                foreach (var error in errors.Take(5)) Console.WriteLine($"    error: {error}");
                if (busyTimeouts > 0) Console.WriteLine($"    {busyTimeouts} write(s) refused past the busy timeout and retried");
                Add(new Figure
                {
                    Workload = "processes", Variant = $"{k} process{(k == 1 ? "" : "es")} ({_o.WorkerMode}, {perWorker} posters each)",
                    Run = run, Jobs = ids.Count, Seconds = elapsed.TotalSeconds, Latency = Latency.Of(latencies),
                    WalMaxBytes = walMax, WalEndBytes = walEnd,
                    Extra =
                    {
                        ["verified"] = check.Ok && errors.Count == 0, ["processes"] = k, ["duplicates"] = check.Duplicates,
                        ["missing"] = check.Missing, ["unknown"] = check.Unknown,
                        ["claimed_per_process"] = string.Join("/", perProcess), ["errors"] = errors.Count,
                        ["busy_timeouts"] = busyTimeouts,
                    },
                });
            }
            finally
            {
                foreach (var w in workers)
                {
                    if (!w.Process.HasExited)
                    {
                        try { w.Process.Kill(entireProcessTree: true); }
                        catch (InvalidOperationException) { }
                    }
                    w.Process.Dispose();
                }
                Drop(db);
            }
        }
    }
}
