namespace QueueActors.Storage;

/// <summary>Where a job is in its lifecycle; stored as the card's status strings.</summary>
public enum JobStatus
{
    /// <summary>Waiting to be claimed (<c>queued</c>).</summary>
    Queued,
    /// <summary>Claimed by a poster and not yet reported (<c>in_progress</c>).</summary>
    InProgress,
    /// <summary>Published (<c>posted</c>); final.</summary>
    Posted,
    /// <summary>Given up on (<c>failed</c>); final until requeued by an operator.</summary>
    Failed,
}

/// <summary>One post or reply in the queue, as stored.</summary>
public sealed record Job(
    string Id,
    DateTimeOffset CreatedAt,
    DateTimeOffset NotBefore,
    string Text,
    string? ReplyToUri,
    string? ReplyToCid,
    string? ImagePath,
    string? ImageAlt,
    string ExpectedHandle,
    bool DryRun,
    JobStatus Status,
    int Attempts,
    int MaxAttempts,
    string? LastError,
    string? ResultUri,
    string? ResultUrl,
    DateTimeOffset? PostedAt)
{
    /// <summary>When the current lease began; null unless in progress.</summary>
    public DateTimeOffset? ClaimedAt { get; init; }

    /// <summary>The fencing token of the current claim; null unless in progress.</summary>
    public string? ClaimToken { get; init; }

    /// <summary>The atproto record key (TID) to publish under; assigned at enqueue, never changes.</summary>
    public string RecordKey { get; init; } = "";

    /// <summary>The caller's idempotency key given at enqueue, if any.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>When the job became posted or failed; null while it is queued or in progress.</summary>
    public DateTimeOffset? FinishedAt { get; init; }

    /// <summary>True when the job is a reply (it names a parent post).</summary>
    public bool IsReply => ReplyToUri is not null;
}

/// <summary>A job to enqueue; validated by <see cref="BlueskyQueue.EnqueueAsync(NewJob, CancellationToken)"/>.</summary>
public sealed record NewJob
{
    /// <summary>The post text, stored byte for byte (at most 300 graphemes and 3000 UTF-8 bytes).</summary>
    public required string Text { get; init; }

    /// <summary>The handle of the account that must publish the job.</summary>
    public required string ExpectedHandle { get; init; }

    /// <summary>AT-URI of the post replied to; requires <see cref="ReplyToCid"/>.</summary>
    public string? ReplyToUri { get; init; }

    /// <summary>CID of the post replied to; requires <see cref="ReplyToUri"/>.</summary>
    public string? ReplyToCid { get; init; }

    /// <summary>Path of an image file to attach.</summary>
    public string? ImagePath { get; init; }

    /// <summary>Alt text of the image; requires <see cref="ImagePath"/>.</summary>
    public string? ImageAlt { get; init; }

    /// <summary>Earliest time the job may be claimed; null means now.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>True when the poster must not really publish.</summary>
    public bool DryRun { get; init; }

    /// <summary>How many tries the job gets before it fails for good (at least 1).</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Optional key that makes enqueueing the same job twice return the first one's id.</summary>
    public string? IdempotencyKey { get; init; }
}

/// <summary>Number of jobs in each status.</summary>
public sealed record QueueStats(int Queued, int InProgress, int Posted, int Failed);

/// <summary>Posts and replies published by a handle on one (Beijing) calendar day.</summary>
public readonly record struct DailyCount(int PostCount, int ReplyCount);

/// <summary>No job has the given id.</summary>
public sealed class JobNotFoundException(string jobId)
    : KeyNotFoundException($"No job with id '{jobId}'.")
{
    /// <summary>The id that was looked up.</summary>
    public string JobId { get; } = jobId;
}

/// <summary>The job exists but is not in the state the call requires.</summary>
public class InvalidJobStateException : InvalidOperationException
{
    /// <summary>Creates the exception for a job found in <paramref name="actual"/> where <paramref name="expected"/> was required.</summary>
    public InvalidJobStateException(string jobId, JobStatus expected, JobStatus actual)
        : this(jobId, expected, actual,
            $"Job '{jobId}' is {JobStatuses.ToDb(actual)}, expected {JobStatuses.ToDb(expected)}.")
    {
    }

    /// <summary>Creates the exception with a message of its own.</summary>
    public InvalidJobStateException(string jobId, JobStatus expected, JobStatus actual, string message)
        : base(message)
    {
        JobId = jobId;
        Expected = expected;
        Actual = actual;
    }

    /// <summary>The job concerned.</summary>
    public string JobId { get; }

    /// <summary>The state the call required.</summary>
    public JobStatus Expected { get; }

    /// <summary>The state the job was in.</summary>
    public JobStatus Actual { get; }
}

/// <summary>The claim token given no longer holds the job's lease: it expired and the job was reclaimed.</summary>
public sealed class LeaseLostException : InvalidJobStateException
{
    /// <summary>Creates the exception for a job whose lease <paramref name="claimToken"/> no longer holds.</summary>
    public LeaseLostException(string jobId, string claimToken, JobStatus actual)
        : base(jobId, JobStatus.InProgress, actual,
            $"Lease lost on job '{jobId}': claim token '{claimToken}' is no longer current (the job is {JobStatuses.ToDb(actual)}).")
    {
        ClaimToken = claimToken;
    }

    /// <summary>The token that was refused.</summary>
    public string ClaimToken { get; }
}

/// <summary>The database could not be opened, read or written; the message names the file and the cause.</summary>
public sealed class QueueStorageException(string dbPath, string message, Exception? inner = null)
    : IOException($"{dbPath}: {message}", inner)
{
    /// <summary>The database file concerned.</summary>
    public string DbPath { get; } = dbPath;
}

/// <summary>Conversions between <see cref="JobStatus"/> and the card's status strings.</summary>
public static class JobStatuses
{
    /// <summary>The database string of a status.</summary>
    public static string ToDb(JobStatus status) => status switch
    {
        JobStatus.Queued => "queued",
        JobStatus.InProgress => "in_progress",
        JobStatus.Posted => "posted",
        JobStatus.Failed => "failed",
        _ => throw new ArgumentOutOfRangeException(nameof(status)),
    };

    /// <summary>The status of a database string.</summary>
    public static JobStatus FromDb(string value) => value switch
    {
        "queued" => JobStatus.Queued,
        "in_progress" => JobStatus.InProgress,
        "posted" => JobStatus.Posted,
        "failed" => JobStatus.Failed,
        _ => throw new FormatException($"Unknown job status '{value}'."),
    };
}
