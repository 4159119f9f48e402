using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Microsoft.Data.Sqlite;
using QueueActors.Storage;

namespace QueueActors.Bench;

/// <summary>What one drain did: wall time from the start signal to the last empty claim, every claim and its latency.</summary>
/// <c>BusyErrors</c> counts operations refused after the busy timeout (and then retried, so the drain completes).
internal sealed record DrainOutcome(
    TimeSpan Elapsed, IReadOnlyList<string> ClaimedIds, IReadOnlyList<double> ClaimLatenciesMs,
    long WalEndBytes, long WalMaxBytes, IReadOnlyList<string> Errors, int BusyErrors, string? FirstBusyError);

/// <summary>
/// Counts writes refused because the database stayed locked past the busy timeout (SQLite's busy handler is
/// not fair: under sustained contention one connection can lose every race for the lock) and retries them,
/// as a real poster would, so one starved writer does not end its loop.
/// </summary>
internal sealed class Busy
{
    private const int MaxRetries = 20;
    private int _count;
    private string? _first;

    public int Count => Volatile.Read(ref _count);
    public string? First => Volatile.Read(ref _first);

    public static bool IsBusy(Exception e) => e switch
    {
        SqliteException { SqliteErrorCode: 5 or 6 } => true,
        QueueStorageException { InnerException: SqliteException { SqliteErrorCode: 5 or 6 } } => true,
        _ => false,
    };

    public void Record(Exception e)
    {
        Interlocked.Increment(ref _count);
        Interlocked.CompareExchange(ref _first, $"{e.GetType().Name}: {e.Message}", null);
    }

    public void Record(string message)
    {
        Interlocked.Increment(ref _count);
        Interlocked.CompareExchange(ref _first, message, null);
    }

    public T Retry<T>(Func<T> operation)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                return operation();
            }
            catch (Exception e) when (IsBusy(e) && attempt < MaxRetries)
            {
                Record(e);
            }
        }
    }

    public static T Retry<T>(Busy busy, Func<T> operation) => busy.Retry(operation);

    public static void Retry(Busy busy, Action operation) => busy.Retry(() => { operation(); return 0; });
}

/// <summary>
/// The three ways to drain a queue, each loop claim(handle) → mark posted under the claim token until
/// the handle has nothing due: P threads on raw connections (one BEGIN IMMEDIATE per operation),
/// P threads on one <see cref="BlueskyQueue"/>, and P poster actors talking to a <see cref="QueueManager"/>.
/// Poster <c>i</c> works handle <c>(offset + i) % handles</c>. Each waits for <c>gate</c> (if given) after
/// its set-up, so a worker process can report ready and start when told; the clock starts after it.
/// </summary>
internal static class Drains
{
    private static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    public static string PostUri(string recordKey) => $"at://did:plc:benchbenchbenchbench/app.bsky.feed.post/{recordKey}";

    public static string WebUrl(string handle, string recordKey) => $"https://bsky.app/profile/{handle}/post/{recordKey}";

    // ---- raw Microsoft.Data.Sqlite: the floor of the stack ----

    public static DrainOutcome Raw(
        string dbPath, QueueSettings settings, int posters, int handles, int offset = 0, Action? gate = null, Action? finished = null)
    {
        var start = new ManualResetEventSlim(false);
        var close = new ManualResetEventSlim(false);
        var ready = new CountdownEvent(posters);
        var done = new CountdownEvent(posters);
        var claimed = new List<string>[posters];
        var latencies = new List<double>[posters];
        var errors = new ConcurrentQueue<string>();
        var busy = new Busy();
        long recordKeys = 0;
        var threads = Enumerable.Range(0, posters).Select(p => new Thread(() =>
        {
            claimed[p] = new List<string>();
            latencies[p] = new List<double>();
            string handle = Bench.Handle((offset + p) % handles);
            SqliteConnection? connection = null;
            bool signalled = false;
            try
            {
                connection = RawSql.Open(dbPath, settings);
                using var begin = RawSql.Command(connection, "BEGIN IMMEDIATE;");
                using var commit = RawSql.Command(connection, "COMMIT;");
                using var rollback = RawSql.Command(connection, "ROLLBACK;");
                using var claim = RawSql.Command(connection, RawSql.ClaimSql(withHandle: true));
                var cNow = claim.Parameters.Add("$now", SqliteType.Text);
                var cToken = claim.Parameters.Add("$token", SqliteType.Text);
                var cKey = claim.Parameters.Add("$record_key", SqliteType.Text);
                claim.Parameters.AddWithValue("$handle", handle);
                using var mark = RawSql.Command(connection, RawSql.MarkPostedSql);
                var mId = mark.Parameters.Add("$id", SqliteType.Text);
                var mUri = mark.Parameters.Add("$uri", SqliteType.Text);
                var mUrl = mark.Parameters.Add("$url", SqliteType.Text);
                var mNow = mark.Parameters.Add("$now", SqliteType.Text);
                var mToken = mark.Parameters.Add("$token", SqliteType.Text);
                ready.Signal();
                signalled = true;
                start.Wait();
                while (true)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    string? id = null, token = null, recordKey = null;
                    Busy.Retry(busy, () =>
                    {
                        id = token = recordKey = null;
                        begin.ExecuteNonQuery();
                        try
                        {
                            cNow.Value = RawSql.Time(DateTimeOffset.UtcNow);
                            cToken.Value = Guid.NewGuid().ToString("N");
                            cKey.Value = "raw" + Interlocked.Increment(ref recordKeys);
                            using (var reader = claim.ExecuteReader())
                            {
                                if (reader.Read())
                                {
                                    // Read every column, as BlueskyQueue builds its Job.
                                    var values = new object[reader.FieldCount];
                                    reader.GetValues(values);
                                    id = (string)values[0];
                                    token = values[18] as string;
                                    recordKey = values[19] as string ?? id;
                                }
                            }
                            commit.ExecuteNonQuery();
                        }
                        catch
                        {
                            TryRollback(connection, rollback);
                            throw;
                        }
                    });
                    if (id is null) break;
                    latencies[p].Add(Ms(t0, Stopwatch.GetTimestamp()));
                    claimed[p].Add(id);

                    Busy.Retry(busy, () =>
                    {
                        begin.ExecuteNonQuery();
                        try
                        {
                            mId.Value = id;
                            mUri.Value = PostUri(recordKey!);
                            mUrl.Value = WebUrl(handle, recordKey!);
                            mNow.Value = RawSql.Time(DateTimeOffset.UtcNow);
                            mToken.Value = token;
                            if (mark.ExecuteNonQuery() != 1) errors.Enqueue($"raw mark posted of {id} changed no row");
                            commit.ExecuteNonQuery();
                        }
                        catch
                        {
                            TryRollback(connection, rollback);
                            throw;
                        }
                    });
                }
            }
            catch (Exception e)
            {
                errors.Enqueue($"raw poster {p}: {e.GetType().Name}: {e.Message}");
                if (!signalled) ready.Signal();
            }
            finally
            {
                done.Signal();
                close.Wait();
                connection?.Dispose();
            }
        }) { IsBackground = true, Name = $"raw-{p}" }).ToList();
        return RunThreads(dbPath, threads, ready, start, done, close, claimed, latencies, errors, busy, gate, finished);
    }

    private static void TryRollback(SqliteConnection connection, SqliteCommand rollback)
    {
        try
        {
            if (SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) == 0) rollback.ExecuteNonQuery();
        }
        catch (SqliteException)
        {
        }
    }

    // ---- BlueskyQueue, called directly from P threads ----

    public static DrainOutcome Direct(
        string dbPath, QueueSettings settings, int posters, int handles, int offset = 0, Action? gate = null, Action? finished = null)
    {
        var queue = new BlueskyQueue(settings with { DbPath = dbPath });
        queue.InitDbAsync().GetAwaiter().GetResult();
        var busy = new Busy();
        var start = new ManualResetEventSlim(false);
        var close = new ManualResetEventSlim(false);
        var ready = new CountdownEvent(posters);
        var done = new CountdownEvent(posters);
        var claimed = new List<string>[posters];
        var latencies = new List<double>[posters];
        var errors = new ConcurrentQueue<string>();
        var threads = Enumerable.Range(0, posters).Select(p => new Thread(() =>
        {
            claimed[p] = new List<string>();
            latencies[p] = new List<double>();
            string handle = Bench.Handle((offset + p) % handles);
            try
            {
                ready.Signal();
                start.Wait();
                while (true)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    // Microsoft.Data.Sqlite completes synchronously: these Tasks are already done.
                    var job = Busy.Retry(busy, () => queue.ClaimNextAsync(handle).GetAwaiter().GetResult());
                    if (job is null) break;
                    latencies[p].Add(Ms(t0, Stopwatch.GetTimestamp()));
                    claimed[p].Add(job.Id);
                    Busy.Retry(busy, () => queue.MarkPostedAsync(job.Id, PostUri(job.RecordKey), WebUrl(handle, job.RecordKey), job.ClaimToken)
                        .GetAwaiter().GetResult());
                }
            }
            catch (Exception e)
            {
                errors.Enqueue($"direct poster {p}: {e.GetType().Name}: {e.Message}");
            }
            finally
            {
                done.Signal();
            }
        }) { IsBackground = true, Name = $"direct-{p}" }).ToList();
        try
        {
            return RunThreads(dbPath, threads, ready, start, done, close, claimed, latencies, errors, busy, gate, finished);
        }
        finally
        {
            queue.Dispose();
        }
    }

    private static DrainOutcome RunThreads(
        string dbPath, List<Thread> threads, CountdownEvent ready, ManualResetEventSlim start, CountdownEvent finished,
        ManualResetEventSlim close, List<string>[] claimed, List<double>[] latencies, ConcurrentQueue<string> errors,
        Busy busy, Action? gate, Action? onDone)
    {
        using var wal = new WalMonitor(dbPath);
        foreach (var t in threads) t.Start();
        ready.Wait();
        gate?.Invoke();
        var clock = Stopwatch.StartNew();
        start.Set();
        finished.Wait();
        var elapsed = clock.Elapsed;
        long walEnd = wal.Current, walMax = wal.Max;
        onDone?.Invoke();
        close.Set();
        foreach (var t in threads) t.Join();
        return new DrainOutcome(elapsed, claimed.SelectMany(c => c).ToList(), latencies.SelectMany(l => l).ToList(),
            walEnd, walMax, errors.ToList(), busy.Count, busy.First);
    }

    // ---- The actor service: P poster actors → QueueManager → QueueActor per handle → group-committing store ----

    /// <summary>The service's default HOCON with quiet logging.</summary>
    public static Config ActorConfig() =>
        ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.stdout-loglevel = WARNING
            akka.log-dead-letters = off
            akka.log-dead-letters-during-shutdown = off
            """).WithFallback(ConfigurationFactory.ParseString(QueueHostingExtensions.DefaultHocon));

    public static async Task<DrainOutcome> Actors(
        string dbPath, SyncMode sync, int posters, int handles, int offset = 0, Func<Task>? gate = null, Action? finished = null)
    {
        var system = ActorSystem.Create("bench", ActorConfig());
        try
        {
            var options = new QueueOptions
            {
                DbPath = dbPath,
                Synchronous = sync,
                ReclaimInterval = TimeSpan.Zero,        // no reclaim timer during the measurement
                IdleTimeout = TimeSpan.FromMinutes(10), // no passivation during the measurement
            };
            var manager = system.ActorOf(QueueManager.Props(options), QueueManager.ActorName);
            // Opens the database (the store's PreStart) before the clock starts.
            var stats = await manager.Ask<object>(new GetStats(), TimeSpan.FromSeconds(60));
            if (stats is QueueError error) throw new InvalidOperationException($"the queue service failed: {error.Code}: {error.Message}");

            var recorder = new ActorDrainRecorder(posters);
            if (gate is not null) await gate();
            using var wal = new WalMonitor(dbPath);
            var clock = Stopwatch.StartNew();
            for (int p = 0; p < posters; p++)
            {
                string handle = Bench.Handle((offset + p) % handles);
                int index = p;
                system.ActorOf(Props.Create(() => new PosterActor(manager, handle, recorder, index)), $"poster-{p}");
            }
            await recorder.Done.Task.WaitAsync(TimeSpan.FromMinutes(30));
            var elapsed = clock.Elapsed;
            long walEnd = wal.Current, walMax = wal.Max;
            finished?.Invoke();
            return new DrainOutcome(elapsed, recorder.Claimed.SelectMany(c => c).ToList(),
                recorder.Latencies.SelectMany(l => l).ToList(), walEnd, walMax, recorder.Errors.ToList(),
                recorder.Busy.Count, recorder.Busy.First);
        }
        finally
        {
            await system.Terminate();
        }
    }
}

/// <summary>What the poster actors report: per poster (each list written by its one actor), read after all are done.</summary>
internal sealed class ActorDrainRecorder
{
    private int _remaining;

    public ActorDrainRecorder(int posters)
    {
        _remaining = posters;
        Claimed = Enumerable.Range(0, posters).Select(_ => new List<string>()).ToArray();
        Latencies = Enumerable.Range(0, posters).Select(_ => new List<double>()).ToArray();
    }

    public List<string>[] Claimed { get; }
    public List<double>[] Latencies { get; }
    public ConcurrentQueue<string> Errors { get; } = new();
    public Busy Busy { get; } = new();
    public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void PosterDone()
    {
        if (Interlocked.Decrement(ref _remaining) == 0) Done.TrySetResult();
    }
}

/// <summary>
/// A simulated poster: Tell ClaimNext(handle) → on JobClaimed Tell MarkPosted(id, uri, url, token) →
/// on JobUpdated claim again, until the handle has nothing due. No Ask, nothing blocks.
/// </summary>
internal sealed class PosterActor : ReceiveActor
{
    private const int MaxErrors = 100;
    private readonly IActorRef _queue;
    private readonly string _handle;
    private readonly ActorDrainRecorder _recorder;
    private readonly List<string> _claimed;
    private readonly List<double> _latencies;
    private long _claimSent;
    private int _errors;
    private IQueueRequest? _last;

    public PosterActor(IActorRef queue, string handle, ActorDrainRecorder recorder, int index)
    {
        _queue = queue;
        _handle = handle;
        _recorder = recorder;
        _claimed = recorder.Claimed[index];
        _latencies = recorder.Latencies[index];

        Receive<JobClaimed>(m =>
        {
            if (m.Job is not { } job)
            {
                _recorder.PosterDone();
                Context.Stop(Self);
                return;
            }
            _latencies.Add((Stopwatch.GetTimestamp() - _claimSent) * 1000.0 / Stopwatch.Frequency);
            _claimed.Add(job.Id);
            _last = new MarkPosted(job.Id, Drains.PostUri(job.RecordKey), Drains.WebUrl(_handle, job.RecordKey), job.ClaimToken);
            _queue.Tell(_last);
        });
        Receive<JobUpdated>(_ => Claim());
        Receive<QueueError>(e =>
        {
            if (++_errors >= MaxErrors)
            {
                _recorder.Errors.Enqueue($"poster {_handle} gives up after {MaxErrors} errors, the last {e.Code}: {e.Message}");
                _recorder.PosterDone();
                Context.Stop(Self);
                return;
            }
            if (e.Code == QueueErrorCodes.Storage && _last is not null)
            {
                // Its batch was rolled back (the lock stayed busy past the timeout): send the same request again.
                _recorder.Busy.Record($"{e.Code}: {e.Message}");
                _queue.Tell(_last);
                return;
            }
            _recorder.Errors.Enqueue($"poster {_handle}: {e.Code}: {e.Message}");
            Claim();
        });
    }

    protected override void PreStart() => Claim();

    private void Claim()
    {
        _claimSent = Stopwatch.GetTimestamp();
        _last = new ClaimNext(_handle);
        _queue.Tell(_last);
    }
}
