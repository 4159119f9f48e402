using QueueActors.Storage;

namespace QueueActors;

/// <summary>Marker of every message of the queue protocol; binds the protocol's serializer.</summary>
public interface IQueueMessage;

/// <summary>A request to the queue; every request is answered, with its reply or a <see cref="QueueError"/>.</summary>
public interface IQueueRequest : IQueueMessage;

/// <summary>A request that concerns one account, routed to that handle's <see cref="QueueActor"/>.</summary>
public interface IWithHandle
{
    /// <summary>The handle as given (case and a leading '@' do not matter); null for claims of any handle.</summary>
    string? Handle { get; }
}

/// <summary>Stores a job; answered with <see cref="Enqueued"/>.</summary>
public sealed record Enqueue(NewJob Job) : IQueueRequest, IWithHandle
{
    /// <inheritdoc />
    public string? Handle => Job.ExpectedHandle;
}

/// <summary>The job was stored (or, with an idempotency key already used, found) under <paramref name="JobId"/>.</summary>
public sealed record Enqueued(string JobId, bool Created = true) : IQueueMessage;

/// <summary>
/// Claims the next due job of <paramref name="Handle"/> (any handle when null); answered with <see cref="JobClaimed"/>.
/// With a <paramref name="RequestId"/> (it becomes the claim token), sending the same request again returns
/// the job the first one claimed, so a claim whose answer was lost can be retried safely.
/// </summary>
public sealed record ClaimNext(string? Handle = null, string? RequestId = null) : IQueueRequest, IWithHandle;

/// <summary>The claimed job, already in progress, or null when nothing is due.</summary>
public sealed record JobClaimed(Job? Job) : IQueueMessage;

/// <summary>Reports a job published; answered with <see cref="JobUpdated"/>. With a claim token, refused as <c>lease_lost</c> unless it is current.</summary>
public sealed record MarkPosted(string JobId, string Uri, string Url, string? ClaimToken = null) : IQueueRequest;

/// <summary>Reports a job failed for good; answered with <see cref="JobUpdated"/>.</summary>
public sealed record MarkFailed(string JobId, string Error, string? ClaimToken = null) : IQueueRequest;

/// <summary>Reports a failed try to be retried not before <paramref name="NotBefore"/>; answered with <see cref="JobUpdated"/>.</summary>
public sealed record MarkRetry(string JobId, string Error, DateTimeOffset NotBefore, string? ClaimToken = null) : IQueueRequest;

/// <summary>Renews the lease of a claimed job; answered with <see cref="JobUpdated"/>, or <c>lease_lost</c>.</summary>
public sealed record ExtendLease(string JobId, string ClaimToken) : IQueueRequest;

/// <summary>The job's status after a report.</summary>
public sealed record JobUpdated(string JobId, JobStatus Status) : IQueueMessage;

/// <summary>Counts jobs per status, of one handle or all; answered with <see cref="QueueStats"/>.</summary>
public sealed record GetStats(string? Handle = null) : IQueueRequest;

/// <summary>Reads today's counts of a handle; answered with <see cref="DailyCount"/>.</summary>
public sealed record GetDailyCount(string Handle) : IQueueRequest, IWithHandle;

/// <summary>Counts one post or reply for today; answered with the new <see cref="DailyCount"/>.</summary>
public sealed record IncrementDaily(string Handle, bool IsReply = false) : IQueueRequest, IWithHandle;

/// <summary>Reclaims leases older than <paramref name="Timeout"/> (the service's stale timeout when null); answered with <see cref="StaleReclaimed"/>.</summary>
public sealed record ReclaimStale(TimeSpan? Timeout = null) : IQueueRequest;

/// <summary>Jobs put back to queued (<paramref name="JobIds"/>) and jobs failed because their attempts ran out.</summary>
public sealed record StaleReclaimed(IReadOnlyList<string> JobIds, IReadOnlyList<string> FailedJobIds) : IQueueMessage;

/// <summary>Reads one job; answered with <see cref="JobInfo"/>.</summary>
public sealed record GetJob(string JobId) : IQueueRequest;

/// <summary>The job, or null when no job has that id.</summary>
public sealed record JobInfo(Job? Job) : IQueueMessage;

/// <summary>Asks when the next queued job (of a handle, or any) becomes due; answered with <see cref="NextDue"/>.</summary>
public sealed record GetNextDue(string? Handle = null) : IQueueRequest;

/// <summary>The earliest not_before among queued jobs, or null when nothing is queued.</summary>
public sealed record NextDue(DateTimeOffset? NotBefore) : IQueueMessage;

/// <summary>The answer to any request that failed: a <see cref="Code"/> from <see cref="QueueErrorCodes"/> and a readable message.</summary>
public sealed record QueueError(string Code, string Message) : IQueueMessage;

/// <summary>The codes a <see cref="QueueError"/> carries.</summary>
public static class QueueErrorCodes
{
    /// <summary>The request's input is invalid; nothing changed.</summary>
    public const string Validation = "validation";
    /// <summary>No job has the id.</summary>
    public const string NotFound = "not_found";
    /// <summary>The job is not in the state the request needs.</summary>
    public const string InvalidState = "invalid_state";
    /// <summary>The claim token no longer holds the job: its lease expired and it was reclaimed.</summary>
    public const string LeaseLost = "lease_lost";
    /// <summary>The database failed (locked past the busy timeout, full, unreadable); nothing was half written.</summary>
    public const string Storage = "storage";

    /// <summary>The error for an exception thrown by the storage layer.</summary>
    public static QueueError From(Exception e) => e switch
    {
        ArgumentException a => new QueueError(Validation, MessageOf(a)),
        JobNotFoundException => new QueueError(NotFound, e.Message),
        LeaseLostException => new QueueError(LeaseLost, e.Message),
        InvalidJobStateException => new QueueError(InvalidState, e.Message),
        _ => new QueueError(Storage, e.Message),
    };

    // The validators' messages already name the JSON field; .NET's " (Parameter 'Text')" suffix names the C# one.
    private static string MessageOf(ArgumentException e)
    {
        var suffix = e.ParamName is { } name ? $" (Parameter '{name}')" : null;
        return suffix is not null && e.Message.EndsWith(suffix, StringComparison.Ordinal) ? e.Message[..^suffix.Length] : e.Message;
    }
}
