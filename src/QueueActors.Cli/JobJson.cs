using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using QueueActors.Storage;

namespace QueueActors.Cli;

/// <summary>The command line's JSON: jobs as objects keyed by the <c>jobs</c> column names.</summary>
internal static class JobJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        // Posts are full of non-ASCII text: keep it readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static string Time(DateTimeOffset value) =>
        value.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);

    public static JsonObject ToJson(Job job) => new()
    {
        ["id"] = job.Id,
        ["created_at"] = Time(job.CreatedAt),
        ["not_before"] = Time(job.NotBefore),
        ["text"] = job.Text,
        ["reply_to_uri"] = job.ReplyToUri,
        ["reply_to_cid"] = job.ReplyToCid,
        ["image_path"] = job.ImagePath,
        ["image_alt"] = job.ImageAlt,
        ["expected_handle"] = job.ExpectedHandle,
        ["dry_run"] = job.DryRun,
        ["status"] = JobStatuses.ToDb(job.Status),
        ["attempts"] = job.Attempts,
        ["max_attempts"] = job.MaxAttempts,
        ["last_error"] = job.LastError,
        ["result_uri"] = job.ResultUri,
        ["result_url"] = job.ResultUrl,
        ["posted_at"] = job.PostedAt is { } p ? Time(p) : null,
        ["claimed_at"] = job.ClaimedAt is { } c ? Time(c) : null,
        ["claim_token"] = job.ClaimToken,
        ["record_key"] = job.RecordKey,
        ["idempotency_key"] = job.IdempotencyKey,
        ["finished_at"] = job.FinishedAt is { } f ? Time(f) : null,
    };

    public static JsonObject ToJson(QueueStats stats) => new()
    {
        ["queued"] = stats.Queued,
        ["in_progress"] = stats.InProgress,
        ["posted"] = stats.Posted,
        ["failed"] = stats.Failed,
    };

    public static string Write(JsonNode? node) => node is null ? "null" : node.ToJsonString(Options);
}
