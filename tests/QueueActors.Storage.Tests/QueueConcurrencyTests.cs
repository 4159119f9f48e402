using System.Collections.Concurrent;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace QueueActors.Storage.Tests;

/// <summary>
/// The card's second suite (并发安全测试): racing workers in one process (several
/// <see cref="BlueskyQueue"/> instances on one file, many threads) and in several OS processes.
/// </summary>
public sealed class QueueConcurrencyTests : IDisposable
{
    private readonly TempDb _db = new();
    private readonly ManualClock _clock = new(StorageTestKit.T0);
    private readonly ITestOutputHelper _output;

    public QueueConcurrencyTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _db.Dispose();

    private List<BlueskyQueue> OpenMany(int count, SyncMode sync = SyncMode.Full)
    {
        var queues = Enumerable.Range(0, count)
            .Select(_ => _db.Open(new QueueSettings { TimeProvider = _clock, Synchronous = sync }))
            .ToList();
        queues[0].InitDbAsync().GetAwaiter().GetResult();
        return queues;
    }

    private static void DisposeAll(IEnumerable<BlueskyQueue> queues)
    {
        foreach (var q in queues) q.Dispose();
    }

    // ---- 多个 worker 并发 claim 同一个 job，只有一个成功 ----

    [Fact]
    public async Task ManyWorkersRacingForOneJob_ExactlyOneWins()
    {
        var queues = OpenMany(8);
        try
        {
            for (int round = 0; round < 10; round++)
            {
                var id = await queues[0].EnqueueAsync(StorageTestKit.Post($"the only job of round {round}"));
                var winners = new ConcurrentBag<Job>();
                int losers = 0;

                // 8 instances × 4 threads = 32 workers released at once.
                await StorageTestKit.RunTogether(32, worker =>
                {
                    var job = queues[worker % queues.Count].ClaimNextAsync().GetAwaiter().GetResult();
                    if (job is null) Interlocked.Increment(ref losers);
                    else winners.Add(job);
                });

                var winner = Assert.Single(winners);
                Assert.Equal(31, losers);
                Assert.Equal(id, winner.Id);
                Assert.Equal(JobStatus.InProgress, winner.Status);
                Assert.Equal(new QueueStats(0, 1, round, 0), await queues[0].StatsAsync());
                await queues[1].MarkPostedAsync(id, StorageTestKit.Uri(winner.RecordKey), "https://x", winner.ClaimToken);
            }
        }
        finally
        {
            DisposeAll(queues);
        }
    }

    // ---- 并发 enqueue + claim 不冲突 ----

    [Fact]
    public async Task ConcurrentEnqueueAndClaim_EveryJobClaimedExactlyOnce_NoneLost()
    {
        const int producers = 4, perProducer = 500, consumers = 6;
        // Durability is not what this test is about: NORMAL keeps 6,000 commits quick.
        var queues = OpenMany(producers + consumers, SyncMode.Normal);
        try
        {
            var enqueued = new ConcurrentBag<string>();
            var claimed = new ConcurrentBag<string>();
            int producing = producers;

            await StorageTestKit.RunTogether(producers + consumers, worker =>
            {
                var queue = queues[worker];
                if (worker < producers)
                {
                    for (int i = 0; i < perProducer; i++)
                        enqueued.Add(queue.EnqueueAsync(StorageTestKit.Post($"p{worker} #{i}")).GetAwaiter().GetResult());
                    Interlocked.Decrement(ref producing);
                    return;
                }
                while (true)
                {
                    bool producersDone = Volatile.Read(ref producing) == 0; // read before the claim
                    var job = queue.ClaimNextAsync().GetAwaiter().GetResult();
                    if (job is null)
                    {
                        if (producersDone) return; // nothing left and nothing more coming
                        Thread.Yield();
                        continue;
                    }
                    claimed.Add(job.Id);
                    queue.MarkPostedAsync(job.Id, StorageTestKit.Uri(job.RecordKey), "https://x", job.ClaimToken)
                        .GetAwaiter().GetResult();
                }
            });

            Assert.Equal(producers * perProducer, enqueued.Count);
            Assert.Equal(enqueued.Count, enqueued.Distinct().Count());
            Assert.Equal(enqueued.Count, claimed.Count);                       // no job claimed twice…
            Assert.Equal(enqueued.OrderBy(x => x), claimed.OrderBy(x => x));    // …and none lost
            Assert.Equal(new QueueStats(0, 0, producers * perProducer, 0), await queues[0].StatsAsync());
            Assert.Equal(producers * perProducer, _db.Count());
        }
        finally
        {
            DisposeAll(queues);
        }
    }

    // ---- claim_stale_jobs 正确重置超时 job ----

    [Fact]
    public async Task ClaimStaleJobs_ResetsTimedOutJobs_AndLeavesFreshLeases()
    {
        using var queue = _db.Open(_clock);
        var old = await queue.EnqueueAsync(StorageTestKit.Post("old"));
        var fresh = await queue.EnqueueAsync(StorageTestKit.Post("fresh"));
        var waiting = await queue.EnqueueAsync(StorageTestKit.Post("waiting", notBefore: StorageTestKit.T0.AddHours(1)));
        var oldJob = await StorageTestKit.ClaimAsync(queue);
        Assert.Equal(old, oldJob.Id);
        _clock.Advance(TimeSpan.FromSeconds(200));
        var freshJob = await StorageTestKit.ClaimAsync(queue);
        Assert.Equal(fresh, freshJob.Id);
        _clock.Advance(TimeSpan.FromSeconds(150)); // old: 350 s, fresh: 150 s

        var reclaimed = await queue.ClaimStaleJobsAsync(TimeSpan.FromSeconds(300));

        Assert.Equal([old], reclaimed);
        var oldNow = await StorageTestKit.GetAsync(queue, old);
        Assert.Equal(JobStatus.Queued, oldNow.Status);
        Assert.Equal(1, oldNow.Attempts);
        Assert.Contains("lease expired", oldNow.LastError);
        Assert.Null(oldNow.ClaimToken);
        Assert.Equal(freshJob, await StorageTestKit.GetAsync(queue, fresh)); // untouched
        Assert.Equal(JobStatus.Queued, (await StorageTestKit.GetAsync(queue, waiting)).Status);

        // The reclaimed job can be claimed again; a second sweep finds nothing new.
        Assert.Empty(await queue.ClaimStaleJobsAsync(TimeSpan.FromSeconds(300)));
        Assert.Equal(old, (await StorageTestKit.ClaimAsync(queue)).Id);
    }

    [Fact]
    public async Task ConcurrentStaleSweeps_FromSeveralInstances_ReclaimEachJobOnce()
    {
        var queues = OpenMany(6);
        try
        {
            var ids = new List<string>();
            for (int i = 0; i < 50; i++) ids.Add(await queues[0].EnqueueAsync(StorageTestKit.Post($"job {i}")));
            for (int i = 0; i < 50; i++) await StorageTestKit.ClaimAsync(queues[i % 6]);
            _clock.Advance(TimeSpan.FromMinutes(10));

            var reclaimed = new ConcurrentBag<string>();
            await StorageTestKit.RunTogether(12, worker =>
            {
                foreach (var id in queues[worker % 6].ClaimStaleJobsAsync().GetAwaiter().GetResult()) reclaimed.Add(id);
            });

            Assert.Equal(ids.OrderBy(x => x), reclaimed.OrderBy(x => x));
            Assert.All(await queues[0].ListAsync(limit: 1000), j => Assert.Equal(1, j.Attempts));
        }
        finally
        {
            DisposeAll(queues);
        }
    }

    // ---- Several OS processes on one file ----

    [Fact]
    public async Task SeveralProcesses_DrainingOneFile_ClaimEveryJobExactlyOnce()
    {
        const int processes = 4, jobs = 2_400;
        HashSet<string> enqueued;
        using (var queue = _db.Open(_clock))
        {
            var results = await queue.EnqueueManyAsync(
                Enumerable.Range(0, jobs).Select(i => StorageTestKit.Post($"multi-process job {i}")));
            enqueued = results.Select(r => r.Id).ToHashSet();
        }
        Assert.Equal(jobs, enqueued.Count);

        var workers = Enumerable.Range(0, processes).Select(_ => WorkerProcess.Start("drain", _db.DbPath, "--wait")).ToList();
        try
        {
            foreach (var w in workers) Assert.Equal("ready", await w.ReadLineAsync());
            foreach (var w in workers) w.Send("go"); // all start claiming together

            var claimedPerProcess = new List<List<string>>();
            foreach (var w in workers)
            {
                var lines = await w.ReadToEndAsync();
                await w.AssertExitedOkAsync();
                var claimed = lines.Where(l => l.StartsWith("claimed ", StringComparison.Ordinal)).Select(l => l[8..]).ToList();
                Assert.Equal($"done {claimed.Count}", lines[^1]);
                claimedPerProcess.Add(claimed);
            }

            _output.WriteLine("claims per process: " + string.Join(", ", claimedPerProcess.Select(c => c.Count)));
            var all = claimedPerProcess.SelectMany(c => c).ToList();
            Assert.Equal(all.Count, all.Distinct().Count()); // no job claimed twice
            Assert.True(enqueued.SetEquals(all));            // none lost, none invented
            using var check = _db.Open(_clock);
            Assert.Equal(new QueueStats(0, 0, jobs, 0), await check.StatsAsync());
            Assert.Equal(0L, _db.Count("SELECT COUNT(*) FROM jobs WHERE result_uri IS NULL OR claim_token IS NOT NULL;"));
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
        }
    }

    [Fact]
    public async Task FencedLease_RaceAcrossTwoProcesses_StaleWorkerGetsLeaseLost_PostedOnceWithBsUri()
    {
        using var queue = _db.Open(_clock);
        var id = await queue.EnqueueAsync(StorageTestKit.Post("race me", notBefore: DateTimeOffset.UtcNow.AddMinutes(-1)));
        const string uriA = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kaaaaaaaaaa2";
        const string uriB = "at://did:plc:ewvi7nxzyoun6zhxrhs64oiz/app.bsky.feed.post/3kbbbbbbbbbb2";

        using var a = WorkerProcess.Start("hold", _db.DbPath, uriA);
        var claimA = (await a.ReadLineAsync()).Split(' ');
        Assert.Equal(["claimed", id], claimA[..2]);
        string tokenA = claimA[2];

        // A stalls. The test's queue, whose clock runs an hour ahead of the worker's real one,
        // sees A's lease as expired and reclaims the job — no sleeping for the timeout.
        _clock.Set(DateTimeOffset.UtcNow.AddHours(1));
        Assert.Equal([id], await queue.ClaimStaleJobsAsync(TimeSpan.FromSeconds(300)));

        using var b = WorkerProcess.Start("hold", _db.DbPath, uriB);
        var claimB = (await b.ReadLineAsync()).Split(' ');
        Assert.Equal(["claimed", id], claimB[..2]);
        string tokenB = claimB[2];
        Assert.NotEqual(tokenA, tokenB);

        a.Send("report"); // A wakes up and reports with its stale token
        Assert.Equal("lease_lost", await a.ReadLineAsync());
        await a.AssertExitedOkAsync();
        var afterA = await StorageTestKit.GetAsync(queue, id);
        Assert.Equal(JobStatus.InProgress, afterA.Status); // A changed nothing: B still holds the job
        Assert.Equal(tokenB, afterA.ClaimToken);
        Assert.Null(afterA.ResultUri);

        b.Send("report");
        Assert.Equal("posted", await b.ReadLineAsync());
        await b.AssertExitedOkAsync();

        var job = await StorageTestKit.GetAsync(queue, id);
        Assert.Equal(JobStatus.Posted, job.Status);
        Assert.Equal(uriB, job.ResultUri);
        Assert.Equal(1, job.Attempts);
        Assert.Equal(new QueueStats(0, 0, 1, 0), await queue.StatsAsync());
        Assert.Equal(1, _db.Count());
    }

    [Fact]
    public async Task IdempotentEnqueue_DuplicatesFromSeveralProcesses_LeaveOneRow()
    {
        const int processes = 3, copies = 40;
        using (var queue = _db.Open(_clock)) await queue.InitDbAsync();
        var workers = Enumerable.Range(0, processes)
            .Select(_ => WorkerProcess.Start("enqueue", _db.DbPath, "same-key", copies.ToString(), "--wait")).ToList();
        try
        {
            foreach (var w in workers) Assert.Equal("ready", await w.ReadLineAsync());
            foreach (var w in workers) w.Send("go");
            var lines = new List<string>();
            foreach (var w in workers)
            {
                lines.AddRange(await w.ReadToEndAsync());
                await w.AssertExitedOkAsync();
            }

            Assert.Equal(processes * copies, lines.Count);
            var parts = lines.Select(l => l.Split(' ')).ToList();
            Assert.All(parts, p => Assert.Equal("enqueued", p[0]));
            Assert.Single(parts.Select(p => p[1]).Distinct());
            Assert.Single(parts, p => p[2] == "created");
            Assert.Equal(1, _db.Count());
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
        }
    }
}

/// <summary>
/// One running copy of the QueueActors.Storage.Worker helper, started as <c>dotnet QueueActors.Storage.Worker.dll …</c>
/// from the test output folder (the test project references the worker, so its dll and runtimeconfig are there).
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    // Guards against a hang only; no test asserts how long anything took.
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private readonly Process _process;
    private readonly Task<string> _stderr;

    private WorkerProcess(Process process)
    {
        _process = process;
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public static string WorkerDll => Path.Combine(AppContext.BaseDirectory, "QueueActors.Storage.Worker.dll");

    public static WorkerProcess Start(params string[] args)
    {
        Assert.True(File.Exists(WorkerDll), $"the worker helper is missing: {WorkerDll}");
        Assert.True(File.Exists(Path.ChangeExtension(WorkerDll, ".runtimeconfig.json")), "the worker's runtimeconfig.json is missing");
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(WorkerDll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return new WorkerProcess(Process.Start(info) ?? throw new InvalidOperationException("cannot start the worker"));
    }

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    public async Task<string> ReadLineAsync()
    {
        var line = await _process.StandardOutput.ReadLineAsync().WaitAsync(Patience);
        return line ?? throw new InvalidOperationException($"the worker ended early; stderr: {await StderrAsync()}");
    }

    public async Task<List<string>> ReadToEndAsync()
    {
        var text = await _process.StandardOutput.ReadToEndAsync().WaitAsync(Patience);
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
    }

    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    public async Task AssertExitedOkAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(Patience);
        if (_process.ExitCode != 0)
            Assert.Fail($"the worker exited with {_process.ExitCode}; stderr: {await StderrAsync()}");
    }

    private async Task<string> StderrAsync()
    {
        try
        {
            return await _stderr.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            return "(unavailable)";
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
        _process.Dispose();
    }
}
