using System.Diagnostics;
using System.Globalization;
using QueueActors.Storage;

namespace QueueActors.Bench;

/// <summary>
/// One OS process of the multi-process drain, started by the harness as
/// <c>dotnet QueueActors.Bench.dll worker --db F --out PREFIX [--mode actor|direct] [--posters P] [--handles H] [--offset O] [--sync S]</c>.
/// It opens the queue, prints <c>ready</c>, waits for a line on stdin, drains, prints <c>finished</c> the moment
/// its posters are done, writes the claimed ids to PREFIX.ids and the claim latencies (ms) to PREFIX.lat, then
/// prints <c>done COUNT ERRORS WAL_END WAL_MAX BUSY_TIMEOUTS</c>. Exit code 0, or 2 when anything failed.
/// </summary>
internal static class Worker
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? db = null, output = null;
        string mode = "actor";
        int posters = 4, handles = 8, offset = 0;
        var sync = SyncMode.Full;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--db": db = Next(); break;
                case "--out": output = Next(); break;
                case "--mode": mode = Next(); break;
                case "--posters": posters = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--handles": handles = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--offset": offset = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--sync": sync = BenchOptions.ParseSync(Next()); break;
                default: Console.Error.WriteLine($"worker: unknown option {args[i]}"); return 1;
            }
        }
        if (db is null || output is null)
        {
            Console.Error.WriteLine("worker: --db and --out are required");
            return 1;
        }

        try
        {
            void Finished() => Console.WriteLine("finished");
            DrainOutcome outcome = mode switch
            {
                "actor" => await Drains.Actors(db, sync, posters, handles, offset, gate: async () =>
                {
                    Console.WriteLine("ready");
                    await Task.Run(Console.In.ReadLine);
                }, finished: Finished),
                "direct" => Drains.Direct(db, new QueueSettings { Synchronous = sync }, posters, handles, offset, gate: () =>
                {
                    Console.WriteLine("ready");
                    Console.In.ReadLine();
                }, finished: Finished),
                _ => throw new ArgumentException($"--mode is actor or direct, not '{mode}'"),
            };
            await File.WriteAllLinesAsync(output + ".ids", outcome.ClaimedIds);
            await File.WriteAllLinesAsync(output + ".lat",
                outcome.ClaimLatenciesMs.Select(l => l.ToString("R", CultureInfo.InvariantCulture)));
            foreach (var error in outcome.Errors) Console.Error.WriteLine($"worker error: {error}");
            if (outcome.FirstBusyError is not null) Console.Error.WriteLine($"worker busy timeouts: {outcome.BusyErrors}; the first: {outcome.FirstBusyError}");
            Console.WriteLine($"done {outcome.ClaimedIds.Count} {outcome.Errors.Count} {outcome.WalEndBytes} {outcome.WalMaxBytes} {outcome.BusyErrors}");
            return outcome.Errors.Count == 0 ? 0 : 2;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"worker failed: {e}");
            Console.WriteLine("failed");
            return 2;
        }
    }

    /// <summary>How to start this program again: the dotnet host and this dll.</summary>
    public static ProcessStartInfo StartInfo()
    {
        string dll = typeof(Worker).Assembly.Location;
        string? host = Environment.ProcessPath;
        bool isDotnetHost = host is not null &&
                            Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase);
        var info = new ProcessStartInfo(isDotnetHost ? host! : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("worker");
        return info;
    }
}
