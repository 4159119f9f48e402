using Akka.Actor;
using QueueActors.Storage;

namespace QueueActors;

/// <summary>A request was answered with a <see cref="QueueError"/>.</summary>
public sealed class QueueException(QueueError error) : Exception($"{error.Code}: {error.Message}")
{
    /// <summary>The error as the service sent it.</summary>
    public QueueError Error { get; } = error;

    /// <summary>The error's code (<see cref="QueueErrorCodes"/>).</summary>
    public string Code => Error.Code;
}

/// <summary>
/// Typed calls to a queue service, in this process or remote: each is an Ask with a timeout, and
/// a <see cref="QueueError"/> answer is thrown as <see cref="QueueException"/>. Only calls that are
/// safe to repeat (reads, lease renewals, an enqueue with an idempotency key, the report of a post,
/// a claim, which carries a request id of its own) are retried after a timeout.
/// </summary>
public sealed class QueueClient
{
    private readonly ICanTell _queue;
    private readonly TimeSpan _timeout;
    private readonly int _retries;

    /// <summary>A client of <paramref name="queue"/> (the <see cref="QueueManager"/> or a selection of it).</summary>
    public QueueClient(ICanTell queue, TimeSpan? timeout = null, int retries = 2)
    {
        _queue = queue;
        // Longer than the service's default busy timeout (10 s), so a write that waits for the lock is
        // not given up on just before it commits.
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        _retries = retries;
    }

    /// <summary>Stores a job; returns its id.</summary>
    public async Task<string> EnqueueAsync(NewJob job, CancellationToken ct = default) =>
        (await Ask<Enqueued>(new Enqueue(job), safe: job.IdempotencyKey is not null, ct)).JobId;

    /// <summary>
    /// Claims the next due job of a handle (any when null), or null. The request carries an id of its
    /// own, so a retry after a timeout gets back the job the first try claimed rather than a second one.
    /// </summary>
    public async Task<Job?> ClaimNextAsync(string? handle = null, CancellationToken ct = default) =>
        (await Ask<JobClaimed>(new ClaimNext(handle, Guid.NewGuid().ToString("N")), safe: true, ct)).Job;

    /// <summary>Reports a job published.</summary>
    public Task<JobUpdated> MarkPostedAsync(string jobId, string uri, string url, string? claimToken = null, CancellationToken ct = default) =>
        Ask<JobUpdated>(new MarkPosted(jobId, uri, url, claimToken), safe: true, ct);

    /// <summary>Reports a job failed for good.</summary>
    public Task<JobUpdated> MarkFailedAsync(string jobId, string error, string? claimToken = null, CancellationToken ct = default) =>
        Ask<JobUpdated>(new MarkFailed(jobId, error, claimToken), safe: false, ct);

    /// <summary>Reports a failed try to retry not before <paramref name="notBefore"/>.</summary>
    public Task<JobUpdated> MarkRetryAsync(string jobId, string error, DateTimeOffset notBefore, string? claimToken = null, CancellationToken ct = default) =>
        Ask<JobUpdated>(new MarkRetry(jobId, error, notBefore, claimToken), safe: false, ct);

    /// <summary>Renews a lease.</summary>
    public Task<JobUpdated> ExtendLeaseAsync(string jobId, string claimToken, CancellationToken ct = default) =>
        Ask<JobUpdated>(new ExtendLease(jobId, claimToken), safe: true, ct);

    /// <summary>Counts jobs per status.</summary>
    public Task<QueueStats> StatsAsync(string? handle = null, CancellationToken ct = default) =>
        Ask<QueueStats>(new GetStats(handle), safe: true, ct);

    /// <summary>Today's counts of a handle.</summary>
    public Task<DailyCount> GetDailyCountAsync(string handle, CancellationToken ct = default) =>
        Ask<DailyCount>(new GetDailyCount(handle), safe: true, ct);

    /// <summary>Counts one post or reply for today.</summary>
    public Task<DailyCount> IncrementDailyAsync(string handle, bool isReply = false, CancellationToken ct = default) =>
        Ask<DailyCount>(new IncrementDaily(handle, isReply), safe: false, ct);

    /// <summary>Reads a job, or null.</summary>
    public async Task<Job?> GetJobAsync(string jobId, CancellationToken ct = default) =>
        (await Ask<JobInfo>(new GetJob(jobId), safe: true, ct)).Job;

    /// <summary>When the next queued job (of a handle, or any) becomes due, or null when none is queued.</summary>
    public async Task<DateTimeOffset?> NextDueAsync(string? handle = null, CancellationToken ct = default) =>
        (await Ask<NextDue>(new GetNextDue(handle), safe: true, ct)).NotBefore;

    /// <summary>Reclaims stale leases now.</summary>
    public Task<StaleReclaimed> ReclaimStaleAsync(TimeSpan? timeout = null, CancellationToken ct = default) =>
        Ask<StaleReclaimed>(new ReclaimStale(timeout), safe: false, ct);

    private async Task<T> Ask<T>(IQueueRequest request, bool safe, CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            object reply;
            try
            {
                reply = await _queue.Ask<object>(request, _timeout, ct).ConfigureAwait(false);
            }
            catch (AskTimeoutException) when (safe && attempt < _retries && !ct.IsCancellationRequested)
            {
                continue;
            }
            return reply switch
            {
                T answer => answer,
                QueueError error => throw new QueueException(error),
                _ => throw new InvalidOperationException(
                    $"The queue answered {request.GetType().Name} with an unexpected {reply?.GetType().Name ?? "null"}."),
            };
        }
    }
}
