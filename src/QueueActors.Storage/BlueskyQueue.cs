using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;

namespace QueueActors.Storage;

/// <summary>
/// The durable job queue: one SQLite file that any number of instances, threads and OS processes
/// may share. Every write is one <c>BEGIN IMMEDIATE</c> transaction that takes the database's write
/// lock up front; a call returns only after its transaction has committed (and, with
/// <see cref="SyncMode.Full"/>, reached the disk).
/// </summary>
/// <remarks>
/// Microsoft.Data.Sqlite has no real asynchronous I/O: the <c>…Async</c> methods complete
/// synchronously on the calling thread. Callers that must not block (actors) run them on a
/// dedicated thread.
/// </remarks>
public sealed class BlueskyQueue : IAsyncDisposable, IDisposable
{
    private const string JobColumns =
        "id, created_at, not_before, text, reply_to_uri, reply_to_cid, image_path, image_alt, expected_handle, " +
        "dry_run, status, attempts, max_attempts, last_error, result_uri, result_url, posted_at, " +
        "claimed_at, claim_token, record_key, idempotency_key, finished_at";

    /// <summary>The environment variable that overrides the default database path.</summary>
    public const string DbPathVariable = "BLUESKY_QUEUE_DB";

    /// <summary>The default stale timeout of <see cref="ClaimStaleJobsAsync"/>: five minutes.</summary>
    public static readonly TimeSpan DefaultStaleTimeout = TimeSpan.FromSeconds(300);

    private readonly QueueSettings _settings;
    private readonly TimeProvider _time;
    private readonly RecordKeys _recordKeys;
    private readonly string _connectionString;
    private readonly ConcurrentBag<Session> _pool = new();
    private readonly Lock _initGate = new();
    private volatile bool _initialised;
    private volatile bool _disposed;

    /// <summary>Creates a queue on <paramref name="dbPath"/> (null: the default path) reading <paramref name="timeProvider"/>.</summary>
    public BlueskyQueue(string? dbPath = null, TimeProvider? timeProvider = null)
        : this(new QueueSettings { DbPath = dbPath, TimeProvider = timeProvider ?? TimeProvider.System })
    {
    }

    /// <summary>Creates a queue with the given settings.</summary>
    public BlueskyQueue(QueueSettings settings)
    {
        _settings = settings;
        _time = settings.TimeProvider;
        _recordKeys = new RecordKeys(_time);
        DbPath = Path.GetFullPath(ResolveDbPath(settings.DbPath));
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DbPath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            // Microsoft.Data.Sqlite retries a busy statement until this many seconds have passed,
            // on top of SQLite's own busy_timeout below; keep the two the same.
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(settings.BusyTimeout.TotalSeconds)),
        }.ToString();
    }

    /// <summary><c>~/.bluesky-poster/queue.sqlite3</c>.</summary>
    public static string DefaultDbPath => Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".bluesky-poster", "queue.sqlite3");

    /// <summary>The explicit path if given, else <c>BLUESKY_QUEUE_DB</c> if set, else <see cref="DefaultDbPath"/>.</summary>
    public static string ResolveDbPath(string? dbPath) =>
        !string.IsNullOrWhiteSpace(dbPath) ? dbPath
        : Environment.GetEnvironmentVariable(DbPathVariable) is { Length: > 0 } fromEnv ? fromEnv
        : DefaultDbPath;

    /// <summary>The full path of the database file.</summary>
    public string DbPath { get; }

    /// <summary>The settings this queue runs with.</summary>
    public QueueSettings Settings => _settings;

    /// <summary>
    /// Creates the folder and the database if missing, switches it to WAL and migrates the schema
    /// to the current version. Other calls do this on first use; calling it first surfaces a bad
    /// path early.
    /// </summary>
    public Task InitDbAsync(CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        EnsureInitialised();
        return Task.CompletedTask;
    }

    /// <summary>
    /// Validates <paramref name="job"/> and stores it as <c>queued</c>; returns its id (a UUID).
    /// With an <see cref="NewJob.IdempotencyKey"/> already stored, returns that job's id and changes nothing.
    /// </summary>
    /// <exception cref="ArgumentException">The job is invalid; <see cref="ArgumentException.ParamName"/> names the field.</exception>
    public Task<string> EnqueueAsync(NewJob job, CancellationToken ct = default) =>
        Task.FromResult(Enqueue(job, ct).Id);

    /// <summary>As <see cref="EnqueueAsync(NewJob, CancellationToken)"/>, also saying whether a new row was created.</summary>
    public EnqueueResult Enqueue(NewJob job, CancellationToken ct = default)
    {
        var valid = JobValidator.Validate(job, _settings.MaxImageBytes);
        var hash = HashIfKeyed(valid);
        ct.ThrowIfCancellationRequested();
        return Write(s => InsertJob(s, valid, hash));
    }

    /// <summary>
    /// Validates every job, then stores them all in one transaction: either every job is stored
    /// (or matched by its idempotency key) or, on the first invalid one, none is.
    /// </summary>
    public Task<IReadOnlyList<EnqueueResult>> EnqueueManyAsync(IEnumerable<NewJob> jobs, CancellationToken ct = default)
    {
        var valid = jobs.Select(j => JobValidator.Validate(j, _settings.MaxImageBytes)).Select(j => (Job: j, Hash: HashIfKeyed(j))).ToList();
        ct.ThrowIfCancellationRequested();
        IReadOnlyList<EnqueueResult> results = Write(s => valid.Select(j => InsertJob(s, j.Job, j.Hash)).ToList());
        return Task.FromResult(results);
    }

    /// <summary>
    /// Claims the next due job (of <paramref name="handle"/>, if given) and returns it as
    /// <see cref="JobStatus.InProgress"/> with a fresh claim token, or null when nothing is due.
    /// Due means <c>queued</c> with <c>not_before</c> at or before now; the earliest <c>not_before</c>
    /// wins, then the earliest <c>created_at</c>, then insertion order. No two callers, in any
    /// process, ever get the same claim.
    /// </summary>
    public Task<Job?> ClaimNextAsync(string? handle = null, CancellationToken ct = default) =>
        ClaimNextAsync(handle, null, ct);

    /// <summary>
    /// As <see cref="ClaimNextAsync(string?, CancellationToken)"/>, with the claim token chosen by the
    /// caller: a retried claim with the same token gets back the job it claimed the first time (if it
    /// is still in progress under that token) instead of a second job, so a claim whose answer was
    /// lost is not left leased to no one.
    /// </summary>
    public Task<Job?> ClaimNextAsync(string? handle, string? claimToken, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Write(s => ClaimNext(s, handle, claimToken)));
    }

    /// <summary>Marks an in-progress job posted with its AT-URI and web URL. Replaying the same uri on a posted job is a no-op.</summary>
    public Task MarkPostedAsync(string jobId, string uri, string url, CancellationToken ct = default) =>
        MarkPostedAsync(jobId, uri, url, null, ct);

    /// <summary>
    /// As <see cref="MarkPostedAsync(string, string, string, CancellationToken)"/>; with a
    /// <paramref name="claimToken"/>, refused with <see cref="LeaseLostException"/> unless it is the job's current claim.
    /// </summary>
    public Task MarkPostedAsync(string jobId, string uri, string url, string? claimToken, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(s => { MarkPosted(s, jobId, uri, url, claimToken); return 0; });
        return Task.CompletedTask;
    }

    /// <summary>Marks an in-progress job failed for good with <paramref name="error"/>; counts as a try.</summary>
    public Task MarkFailedAsync(string jobId, string error, CancellationToken ct = default) =>
        MarkFailedAsync(jobId, error, null, ct);

    /// <summary>As <see cref="MarkFailedAsync(string, string, CancellationToken)"/>, fenced by <paramref name="claimToken"/> when given.</summary>
    public Task MarkFailedAsync(string jobId, string error, string? claimToken, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(s => { MarkFailed(s, jobId, error, claimToken); return 0; });
        return Task.CompletedTask;
    }

    /// <summary>
    /// Counts a failed try of an in-progress job: attempts+1, then back to <c>queued</c> not before
    /// <paramref name="notBefore"/>, or <c>failed</c> when attempts reach max_attempts.
    /// </summary>
    public Task MarkRetryAsync(string jobId, string error, DateTimeOffset notBefore, CancellationToken ct = default) =>
        MarkRetryAsync(jobId, error, notBefore, null, ct);

    /// <summary>As <see cref="MarkRetryAsync(string, string, DateTimeOffset, CancellationToken)"/>, fenced by <paramref name="claimToken"/> when given.</summary>
    public Task MarkRetryAsync(string jobId, string error, DateTimeOffset notBefore, string? claimToken, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(s => MarkRetry(s, jobId, error, notBefore, claimToken));
        return Task.CompletedTask;
    }

    /// <summary>Renews the lease of an in-progress job, so the stale reclaimer counts its timeout from now.</summary>
    /// <exception cref="LeaseLostException">The token no longer holds the job.</exception>
    public Task ExtendLeaseAsync(string jobId, string claimToken, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(s => { ExtendLease(s, jobId, claimToken); return 0; });
        return Task.CompletedTask;
    }

    /// <summary>Counts jobs per status, of one handle or of all.</summary>
    public Task<QueueStats> StatsAsync(string? handle = null, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Read(s => Stats(s, handle)));
    }

    /// <summary>Posts and replies counted for <paramref name="handle"/> today (the daily zone's calendar date); (0, 0) on a new day.</summary>
    public Task<DailyCount> GetDailyCountAsync(string handle, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Read(s => GetDailyCount(s, handle)));
    }

    /// <summary>Adds one post (or reply) to today's count of <paramref name="handle"/>.</summary>
    public Task IncrementDailyAsync(string handle, bool isReply = false, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        Write(s => IncrementDaily(s, handle, isReply));
        return Task.CompletedTask;
    }

    /// <summary>As <see cref="IncrementDailyAsync"/>, returning the new count.</summary>
    public DailyCount IncrementDaily(string handle, bool isReply = false) =>
        Write(s => IncrementDaily(s, handle, isReply));

    /// <summary>
    /// Reclaims in-progress jobs whose lease is older than <paramref name="timeout"/> (default 300 s):
    /// each counts as a failed try and goes back to <c>queued</c>, or to <c>failed</c> when its attempts
    /// are used up. Returns the ids put back to <c>queued</c>.
    /// </summary>
    public Task<IReadOnlyList<string>> ClaimStaleJobsAsync(TimeSpan? timeout = null, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(ReclaimStale(timeout).Requeued);
    }

    /// <summary>As <see cref="ClaimStaleJobsAsync"/>, also naming the jobs failed because their attempts ran out.</summary>
    public StaleReclaim ReclaimStale(TimeSpan? timeout = null) =>
        Write(s => ReclaimStale(s, timeout ?? DefaultStaleTimeout));

    /// <summary>The job with this id, or null.</summary>
    public Task<Job?> GetJobAsync(string jobId, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Read(s => GetJob(s, jobId)));
    }

    /// <summary>Jobs in claim order (or newest first for finished ones), filtered by status and handle.</summary>
    public Task<IReadOnlyList<Job>> ListAsync(JobStatus? status = null, string? handle = null, int limit = 100, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Read(s => List(s, status, handle, limit)));
    }

    /// <summary>Puts a failed or in-progress job back to <c>queued</c>, due now, with its attempts reset: an operator's decision.</summary>
    public Task<Job> RequeueAsync(string jobId, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Write(s => Requeue(s, jobId)));
    }

    /// <summary>Deletes posted and failed jobs that finished before <paramref name="cutoff"/>; returns how many.</summary>
    public Task<int> PurgeAsync(DateTimeOffset cutoff, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Write(s => s.Execute(
            "DELETE FROM jobs WHERE status IN ('posted', 'failed') AND COALESCE(finished_at, posted_at, created_at) < $cutoff;",
            ("$cutoff", DbTime.ToDb(cutoff)))));
    }

    /// <summary>The earliest <c>not_before</c> of a queued job (of <paramref name="handle"/>, if given), or null when none is queued.</summary>
    public Task<DateTimeOffset?> NextDueAsync(string? handle = null, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Read(s => NextDue(s, handle)));
    }

    /// <summary>Every daily counter row, by date then handle.</summary>
    public Task<IReadOnlyList<DailyCountRow>> DailyCountsAsync(CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        return Task.FromResult(Read<IReadOnlyList<DailyCountRow>>(s =>
        {
            var rows = new List<DailyCountRow>();
            using var reader = s.Query("SELECT handle, date, post_count, reply_count FROM daily_posts ORDER BY date, handle;");
            while (reader.Read())
                rows.Add(new DailyCountRow(reader.GetString(0), reader.GetString(1),
                    new DailyCount(reader.GetInt32(2), reader.GetInt32(3))));
            return rows;
        }));
    }

    internal DateTimeOffset? NextDue(Session s, string? handle)
    {
        var value = handle is null
            ? s.Scalar("SELECT not_before FROM jobs INDEXED BY idx_jobs_due WHERE status = 'queued' ORDER BY not_before LIMIT 1;")
            : s.Scalar("SELECT not_before FROM jobs INDEXED BY idx_jobs_handle_due WHERE status = 'queued' AND expected_handle = $handle ORDER BY not_before LIMIT 1;",
                ("$handle", Handles.Normalize(handle)));
        return value is string text ? DbTime.Parse(text) : null;
    }

    /// <summary>The current time of the queue's clock.</summary>
    public DateTimeOffset Now => _time.GetUtcNow();

    // ---- Transitions: each runs inside the caller's transaction and does one atomic write. ----

    /// <summary>Inserts a validated job; <paramref name="idempotencyHash"/> is its <see cref="ContentHash"/> when it has a key, computed before the write lock is taken.</summary>
    internal EnqueueResult InsertJob(Session s, NewJob job, string? idempotencyHash)
    {
        var now = DbTime.ToDb(_time.GetUtcNow());
        string id = Guid.NewGuid().ToString();

        for (int tries = 0; ; tries++)
        {
            try
            {
                var inserted = s.Scalar(
                    """
                    INSERT INTO jobs (id, created_at, not_before, text, reply_to_uri, reply_to_cid, image_path, image_alt,
                                      expected_handle, dry_run, status, attempts, max_attempts, record_key, idempotency_key,
                                      idempotency_hash)
                    VALUES ($id, $now, $not_before, $text, $reply_to_uri, $reply_to_cid, $image_path, $image_alt,
                            $handle, $dry_run, 'queued', 0, $max_attempts, $record_key, $idempotency_key, $idempotency_hash)
                    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                    RETURNING id;
                    """,
                    ("$id", id), ("$now", now),
                    ("$not_before", job.NotBefore is { } nb ? DbTime.ToDb(nb) : now),
                    ("$text", job.Text), ("$reply_to_uri", job.ReplyToUri), ("$reply_to_cid", job.ReplyToCid),
                    ("$image_path", job.ImagePath), ("$image_alt", job.ImageAlt), ("$handle", job.ExpectedHandle),
                    ("$dry_run", job.DryRun ? 1 : 0), ("$max_attempts", job.MaxAttempts),
                    ("$record_key", _recordKeys.Next()), ("$idempotency_key", job.IdempotencyKey),
                    ("$idempotency_hash", idempotencyHash));
                if (inserted is string newId) return new EnqueueResult(newId, Created: true);
                using var reader = s.Query("SELECT id, idempotency_hash FROM jobs WHERE idempotency_key = $key;",
                    ("$key", job.IdempotencyKey));
                reader.Read();
                var existing = reader.GetString(0);
                if (!reader.IsDBNull(1) && reader.GetString(1) != idempotencyHash)
                    throw new ArgumentException(
                        $"idempotency_key '{job.IdempotencyKey}' already names a different job ({existing}); a key may be reused only for the same job",
                        nameof(NewJob.IdempotencyKey));
                return new EnqueueResult(existing, Created: false);
            }
            catch (SqliteException e) when (e.SqliteErrorCode == 19 && tries < 5 && e.Message.Contains("record_key"))
            {
                // Another process drew the same TID in the same microsecond: draw again.
            }
        }
    }

    /// <summary>The <see cref="ContentHash"/> of a job with an idempotency key, else null.</summary>
    public static string? HashIfKeyed(NewJob job) => job.IdempotencyKey is null ? null : ContentHash(job);

    /// <summary>
    /// A digest of what a job says (its image by its bytes; a null not_before stays null, so retries
    /// match): what an idempotency key names, and the key <c>bsq import</c> gives a line.
    /// </summary>
    public static string ContentHash(NewJob job)
    {
        // The image counts by its bytes: the same picture enqueued from another folder is the same job.
        var image = job.ImagePath is null ? "" : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(job.ImagePath)));
        var content = string.Join("\u001f", job.Text, job.ExpectedHandle, job.ReplyToUri, job.ReplyToCid, image,
            job.ImageAlt, job.NotBefore is { } nb ? DbTime.ToDb(nb) : "", job.DryRun ? "1" : "0",
            job.MaxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(content)));
    }

    // SQLite has no row locks and no FOR UPDATE SKIP LOCKED. The same guarantee comes from the
    // caller's BEGIN IMMEDIATE (one writer at a time, across processes) and this single statement,
    // which picks and takes the job atomically. Without statistics SQLite prefers the card's
    // idx_jobs_claim (status first) for a claim of any handle and then sorts every queued row, so the
    // statement names the index that yields claim order directly. Built once: the claim path is hot.
    private static readonly string ClaimAnySql = ClaimSql("jobs INDEXED BY idx_jobs_due", "");
    private static readonly string ClaimHandleSql = ClaimSql("jobs INDEXED BY idx_jobs_handle_due", "AND expected_handle = $handle");

    private static string ClaimSql(string source, string filter) =>
        $"""
        UPDATE jobs SET status = 'in_progress', claimed_at = $now, claim_token = $token,
                        record_key = COALESCE(record_key, $record_key)
        WHERE rowid = (SELECT rowid FROM {source}
                       WHERE status = 'queued' AND not_before <= $now {filter}
                       ORDER BY not_before, created_at, rowid LIMIT 1)
        RETURNING {JobColumns};
        """;

    private const string ClaimedByTokenSql =
        $"SELECT {JobColumns} FROM jobs WHERE claim_token = $token AND status = 'in_progress' AND ($handle IS NULL OR expected_handle = $handle);";

    internal Job? ClaimNext(Session s, string? handle, string? claimToken = null)
    {
        string? key = handle is null ? null : Handles.Normalize(handle);
        if (claimToken is not null)
        {
            // The token fences every report on the job: it must be unguessable and unique, not a worker's name.
            if (!Guid.TryParse(claimToken, out _))
                throw new ArgumentException("a claim's request id must be a random GUID (it becomes the job's claim token)", nameof(claimToken));
            using var earlier = s.Query(ClaimedByTokenSql, ("$token", claimToken), ("$handle", key));
            if (earlier.Read()) return ReadJob(earlier);
        }
        using var reader = s.Query(key is null ? ClaimAnySql : ClaimHandleSql,
            ("$now", DbTime.ToDb(_time.GetUtcNow())), ("$token", claimToken ?? Guid.NewGuid().ToString("N")),
            ("$record_key", _recordKeys.Next()), ("$handle", key));
        return reader.Read() ? ReadJob(reader) : null;
    }

    internal void MarkPosted(Session s, string jobId, string uri, string url, string? claimToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(uri);
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        int changed = s.Execute(
            """
            UPDATE jobs SET status = 'posted', result_uri = $uri, result_url = $url, posted_at = $now,
                            finished_at = $now, claim_token = NULL, claimed_at = NULL
            WHERE id = $id AND status = 'in_progress' AND ($token IS NULL OR claim_token = $token);
            """,
            ("$id", jobId), ("$uri", uri), ("$url", url), ("$now", DbTime.ToDb(_time.GetUtcNow())), ("$token", claimToken));
        if (changed == 1) return;
        var (status, resultUri, _) = Current(s, jobId);
        if (status == JobStatus.Posted && resultUri == uri) return; // a replay of the same report
        throw Refusal(jobId, status, claimToken);
    }

    internal void MarkFailed(Session s, string jobId, string error, string? claimToken)
    {
        int changed = s.Execute(
            """
            UPDATE jobs SET status = 'failed', attempts = attempts + 1, last_error = $error,
                            finished_at = $now, claim_token = NULL, claimed_at = NULL
            WHERE id = $id AND status = 'in_progress' AND ($token IS NULL OR claim_token = $token);
            """,
            ("$id", jobId), ("$error", error), ("$now", DbTime.ToDb(_time.GetUtcNow())), ("$token", claimToken));
        if (changed == 0) throw Refusal(jobId, Current(s, jobId).Status, claimToken);
    }

    internal JobStatus MarkRetry(Session s, string jobId, string error, DateTimeOffset notBefore, string? claimToken)
    {
        var status = s.Scalar(
            """
            UPDATE jobs SET attempts = attempts + 1, last_error = $error, claim_token = NULL, claimed_at = NULL,
                status = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'queued' END,
                not_before = CASE WHEN attempts + 1 >= max_attempts THEN not_before ELSE $not_before END,
                finished_at = CASE WHEN attempts + 1 >= max_attempts THEN $now ELSE NULL END
            WHERE id = $id AND status = 'in_progress' AND ($token IS NULL OR claim_token = $token)
            RETURNING status;
            """,
            ("$id", jobId), ("$error", error), ("$not_before", DbTime.ToDb(notBefore)),
            ("$now", DbTime.ToDb(_time.GetUtcNow())), ("$token", claimToken));
        if (status is string text) return JobStatuses.FromDb(text);
        throw Refusal(jobId, Current(s, jobId).Status, claimToken);
    }

    internal void ExtendLease(Session s, string jobId, string claimToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(claimToken);
        int changed = s.Execute(
            "UPDATE jobs SET claimed_at = $now WHERE id = $id AND status = 'in_progress' AND claim_token = $token;",
            ("$id", jobId), ("$now", DbTime.ToDb(_time.GetUtcNow())), ("$token", claimToken));
        if (changed == 0) throw Refusal(jobId, Current(s, jobId).Status, claimToken);
    }

    internal StaleReclaim ReclaimStale(Session s, TimeSpan timeout)
    {
        if (timeout < TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "the stale timeout cannot be negative (zero reclaims every job in progress)");
        var now = _time.GetUtcNow();
        var requeued = new List<string>();
        var failed = new List<string>();
        using var reader = s.Query(
            """
            UPDATE jobs SET attempts = attempts + 1, claim_token = NULL, claimed_at = NULL,
                last_error = 'lease expired: no report within ' || $seconds || ' s of the claim at ' || claimed_at,
                status = CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'queued' END,
                finished_at = CASE WHEN attempts + 1 >= max_attempts THEN $now ELSE NULL END
            WHERE status = 'in_progress' AND claimed_at <= $cutoff
            RETURNING id, status;
            """,
            ("$cutoff", DbTime.ToDb(now - timeout)), ("$now", DbTime.ToDb(now)),
            ("$seconds", timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)));
        while (reader.Read())
            (reader.GetString(1) == "queued" ? requeued : failed).Add(reader.GetString(0));
        return new StaleReclaim(requeued, failed);
    }

    internal QueueStats Stats(Session s, string? handle)
    {
        int queued = 0, inProgress = 0, posted = 0, failed = 0;
        using var reader = handle is null
            ? s.Query("SELECT status, COUNT(*) FROM jobs GROUP BY status;")
            : s.Query("SELECT status, COUNT(*) FROM jobs WHERE expected_handle = $handle GROUP BY status;",
                ("$handle", Handles.Normalize(handle)));
        while (reader.Read())
        {
            int n = reader.GetInt32(1);
            switch (reader.GetString(0))
            {
                case "queued": queued = n; break;
                case "in_progress": inProgress = n; break;
                case "posted": posted = n; break;
                case "failed": failed = n; break;
            }
        }
        return new QueueStats(queued, inProgress, posted, failed);
    }

    internal DailyCount GetDailyCount(Session s, string handle)
    {
        // Another program may have counted under '@Alice…' or mixed case: those rows count too.
        using var reader = s.Query(
            """
            SELECT COALESCE(SUM(post_count), 0), COALESCE(SUM(reply_count), 0) FROM daily_posts
            WHERE date = $date AND (handle = $handle OR lower(CASE WHEN handle GLOB '@*' THEN substr(handle, 2) ELSE handle END) = $handle);
            """,
            ("$handle", Handles.Normalize(handle)), ("$date", Today()));
        return reader.Read() ? new DailyCount(reader.GetInt32(0), reader.GetInt32(1)) : default;
    }

    internal DailyCount IncrementDaily(Session s, string handle, bool isReply)
    {
        s.Execute(
            """
            INSERT INTO daily_posts (handle, date, post_count, reply_count) VALUES ($handle, $date, $posts, $replies)
            ON CONFLICT (handle, date) DO UPDATE SET post_count = post_count + excluded.post_count,
                                                     reply_count = reply_count + excluded.reply_count;
            """,
            ("$handle", JobValidator.NormalizeHandle(handle)), ("$date", Today()),
            ("$posts", isReply ? 0 : 1), ("$replies", isReply ? 1 : 0));
        // The answer counts rows another program wrote under other spellings too, as GetDailyCount does.
        return GetDailyCount(s, handle);
    }

    internal Job? GetJob(Session s, string jobId)
    {
        using var reader = s.Query($"SELECT {JobColumns} FROM jobs WHERE id = $id;", ("$id", jobId));
        return reader.Read() ? ReadJob(reader) : null;
    }

    private IReadOnlyList<Job> List(Session s, JobStatus? status, string? handle, int limit)
    {
        var order = status is JobStatus.Posted or JobStatus.Failed
            ? "COALESCE(finished_at, posted_at, created_at) DESC"
            : "not_before, created_at, rowid";
        using var reader = s.Query(
            $"""
            SELECT {JobColumns} FROM jobs
            WHERE ($status IS NULL OR status = $status) AND ($handle IS NULL OR expected_handle = $handle)
            ORDER BY {order} LIMIT $limit;
            """,
            ("$status", status is { } st ? JobStatuses.ToDb(st) : null),
            ("$handle", handle is null ? null : Handles.Normalize(handle)), ("$limit", limit));
        var jobs = new List<Job>();
        while (reader.Read()) jobs.Add(ReadJob(reader));
        return jobs;
    }

    private Job Requeue(Session s, string jobId)
    {
        using (var reader = s.Query(
                   $"""
                   UPDATE jobs SET status = 'queued', attempts = 0, not_before = $now, claim_token = NULL,
                                   claimed_at = NULL, finished_at = NULL
                   WHERE id = $id AND status IN ('failed', 'in_progress')
                   RETURNING {JobColumns};
                   """,
                   ("$id", jobId), ("$now", DbTime.ToDb(_time.GetUtcNow()))))
        {
            if (reader.Read()) return ReadJob(reader);
        }
        var status = Current(s, jobId).Status;
        throw new InvalidJobStateException(jobId, JobStatus.Failed, status,
            $"Job '{jobId}' is {JobStatuses.ToDb(status)}; only failed or in_progress jobs can be requeued.");
    }

    private (JobStatus Status, string? ResultUri, string? ClaimToken) Current(Session s, string jobId)
    {
        using var reader = s.Query("SELECT status, result_uri, claim_token FROM jobs WHERE id = $id;", ("$id", jobId));
        if (!reader.Read()) throw new JobNotFoundException(jobId);
        return (JobStatuses.FromDb(reader.GetString(0)), reader.IsDBNull(1) ? null : reader.GetString(1),
            reader.IsDBNull(2) ? null : reader.GetString(2));
    }

    private static InvalidJobStateException Refusal(string jobId, JobStatus actual, string? claimToken) =>
        claimToken is null
            ? new InvalidJobStateException(jobId, JobStatus.InProgress, actual)
            : new LeaseLostException(jobId, claimToken, actual);

    private string Today() =>
        TimeZoneInfo.ConvertTime(_time.GetUtcNow(), _settings.DailyTimeZone).ToString("yyyy-MM-dd",
            System.Globalization.CultureInfo.InvariantCulture);

    // Another program may store dry_run as text ('true', 'yes'); anything but a clear false counts as true,
    // because a dry run published by mistake is the worse error.
    private static bool IsTrue(object value) => value switch
    {
        long n => n != 0,
        double d => d != 0,
        string t => !(t.Trim() is "" or "0" || t.Trim().Equals("false", StringComparison.OrdinalIgnoreCase)
                      || t.Trim().Equals("no", StringComparison.OrdinalIgnoreCase)),
        _ => false,
    };

    private static Job ReadJob(SqliteDataReader r)
    {
        string? Text(int i) => r.IsDBNull(i) ? null : r.GetString(i);
        return new Job(
            r.GetString(0), DbTime.ParseLenient(r.GetString(1)), DbTime.ParseLenient(r.GetString(2)), r.GetString(3),
            Text(4), Text(5), Text(6), Text(7), r.GetString(8), IsTrue(r.GetValue(9)),
            JobStatuses.FromDb(r.GetString(10)), r.GetInt32(11), r.GetInt32(12), Text(13), Text(14), Text(15),
            DbTime.ParseNullable(Text(16)))
        {
            ClaimedAt = DbTime.ParseNullable(Text(17)),
            ClaimToken = Text(18),
            RecordKey = Text(19) ?? "",
            IdempotencyKey = Text(20),
            FinishedAt = DbTime.ParseNullable(Text(21)),
        };
    }

    // ---- Connections and transactions ----

    /// <summary>Runs <paramref name="work"/> in one <c>BEGIN IMMEDIATE</c> transaction and commits it.</summary>
    internal T Write<T>(Func<Session, T> work)
    {
        if (_initialised && !File.Exists(DbPath))
        {
            // Deleted or moved under us: a write would go to a detached file and be lost with it.
            while (_pool.TryTake(out var stale)) stale.Dispose();
            throw new QueueStorageException(DbPath,
                "the database file has disappeared (deleted or moved while open); writes are refused so that nothing is acknowledged into a lost file");
        }
        var session = Rent();
        bool healthy = true;
        try
        {
            session.Execute("BEGIN IMMEDIATE;");
            T result;
            try
            {
                result = work(session);
                session.Execute("COMMIT;");
            }
            catch (Exception e)
            {
                healthy = e is not SqliteException;
                TryRollback(session);
                throw;
            }
            return result;
        }
        catch (SqliteException e)
        {
            healthy = false;
            throw Describe(e);
        }
        finally
        {
            Return(session, healthy);
        }
    }

    /// <summary>Runs a read outside any explicit transaction (WAL readers never wait for writers).</summary>
    internal T Read<T>(Func<Session, T> work)
    {
        var session = Rent();
        bool healthy = true;
        try
        {
            return work(session);
        }
        catch (SqliteException e)
        {
            healthy = false;
            throw Describe(e);
        }
        finally
        {
            Return(session, healthy);
        }
    }

    private static void TryRollback(Session session)
    {
        try
        {
            // SQLite may already have rolled back (a full disk, an I/O error); only roll back an open transaction.
            if (SQLitePCL.raw.sqlite3_get_autocommit(session.Connection.Handle) == 0)
                session.Execute("ROLLBACK;");
        }
        catch (SqliteException)
        {
            // The caller discards this connection; SQLite rolls back on close.
        }
    }

    private Session Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        EnsureInitialised();
        return _pool.TryTake(out var session) ? session : Open();
    }

    private void Return(Session session, bool healthy)
    {
        if (healthy && !_disposed) _pool.Add(session);
        else session.Dispose();
    }

    private Session Open(bool create = false)
    {
        // Only the first open may create the file: later ones must not make an empty database at a
        // path whose file was deleted under us.
        var connection = new SqliteConnection(create
            ? _connectionString
            : new SqliteConnectionStringBuilder(_connectionString) { Mode = SqliteOpenMode.ReadWrite }.ToString());
        try
        {
            connection.Open();
            var session = new Session(connection);
            string sync = _settings.Synchronous switch
            {
                SyncMode.Full => "FULL",
                SyncMode.Normal => "NORMAL",
                _ => "OFF",
            };
            session.Execute(
                $"PRAGMA busy_timeout = {(int)_settings.BusyTimeout.TotalMilliseconds}; " +
                $"PRAGMA synchronous = {sync}; PRAGMA cache_size = -{_settings.CacheSizeKiB}; " +
                $"PRAGMA wal_autocheckpoint = {_settings.WalAutoCheckpointPages}; PRAGMA temp_store = MEMORY;");
            return session;
        }
        catch (SqliteException e)
        {
            connection.Dispose();
            throw Describe(e);
        }
    }

    private void EnsureInitialised()
    {
        if (_initialised) return;
        lock (_initGate)
        {
            if (_initialised) return;
            if (Directory.Exists(DbPath))
                throw new QueueStorageException(DbPath, "this is a directory, not a database file");
            try
            {
                var folder = Path.GetDirectoryName(DbPath);
                if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new QueueStorageException(DbPath, $"cannot create the database folder: {e.Message}", e);
            }
            var session = Open(create: true);
            try
            {
                var mode = session.Scalar("PRAGMA journal_mode = WAL;") as string;
                if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
                    throw new QueueStorageException(DbPath, $"cannot switch the database to WAL (journal mode stays '{mode}')");
                Schema.Migrate(session.Connection, _recordKeys);
            }
            catch (SqliteException e)
            {
                session.Dispose();
                throw Describe(e);
            }
            catch (InvalidOperationException e)
            {
                session.Dispose();
                throw new QueueStorageException(DbPath, e.Message, e);
            }
            _pool.Add(session);
            _initialised = true;
        }
    }

    private QueueStorageException Describe(SqliteException e) => new(DbPath, e.SqliteErrorCode switch
    {
        5 or 6 => $"the database stayed locked by another connection past the busy timeout of {_settings.BusyTimeout.TotalSeconds:0.###} s",
        8 => "the database is read-only",
        10 => $"disk I/O error ({e.Message})",
        11 => "the database file is corrupt",
        13 => "the disk is full; nothing was written",
        14 => "cannot open the database file (does the folder exist and may this user write it?)",
        26 => "the file is not a SQLite database",
        _ => e.Message,
    }, e);

    /// <summary>Closes every pooled connection.</summary>
    public void Dispose()
    {
        _disposed = true;
        while (_pool.TryTake(out var session)) session.Dispose();
    }

    /// <summary>Closes every pooled connection.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>One row of the daily counters: a handle's counts on one calendar date (<c>yyyy-MM-dd</c>).</summary>
public sealed record DailyCountRow(string Handle, string Date, DailyCount Count);

/// <summary>The outcome of an enqueue: the job's id, and false when an idempotency key matched an existing job.</summary>
public sealed record EnqueueResult(string Id, bool Created);

/// <summary>The outcome of a stale-lease sweep: jobs put back to <c>queued</c>, and jobs failed because their attempts ran out.</summary>
public sealed record StaleReclaim(IReadOnlyList<string> Requeued, IReadOnlyList<string> Failed);

/// <summary>Handle spelling as stored: lower case, one leading '@' dropped.</summary>
internal static class Handles
{
    public static string Normalize(string handle) => JobValidator.NormalizeHandle(handle);
}
