using System.Runtime.Serialization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Akka.Actor;
using Akka.Serialization;
using QueueActors.Storage;

namespace QueueActors.Serialization;

/// <summary>
/// The wire format of the queue protocol: each message is UTF-8 JSON (snake_case field names, the
/// <c>jobs</c> column names for jobs) under a short manifest that names its type. The manifest table
/// below is the whole contract; no .NET type name ever travels, and nothing else is deserialized.
/// </summary>
public sealed class QueueMessageSerializer : SerializerWithStringManifest
{
    /// <summary>The serializer's identifier on the wire (bound in <c>hocon/remote.hocon</c>).</summary>
    public const int Id = 7401;

    // Manifests are part of the wire format: never rename one; add new ones for new messages.
    private static readonly (string Manifest, JsonTypeInfo Info)[] Table =
    [
        ("enqueue", QueueJsonContext.Default.Enqueue),
        ("enqueued", QueueJsonContext.Default.Enqueued),
        ("claim", QueueJsonContext.Default.ClaimNext),
        ("claimed", QueueJsonContext.Default.JobClaimed),
        ("mark-posted", QueueJsonContext.Default.MarkPosted),
        ("mark-failed", QueueJsonContext.Default.MarkFailed),
        ("mark-retry", QueueJsonContext.Default.MarkRetry),
        ("extend-lease", QueueJsonContext.Default.ExtendLease),
        ("updated", QueueJsonContext.Default.JobUpdated),
        ("get-stats", QueueJsonContext.Default.GetStats),
        ("stats", QueueJsonContext.Default.QueueStats),
        ("get-daily", QueueJsonContext.Default.GetDailyCount),
        ("increment-daily", QueueJsonContext.Default.IncrementDaily),
        ("daily", QueueJsonContext.Default.DailyCount),
        ("reclaim", QueueJsonContext.Default.ReclaimStale),
        ("reclaimed", QueueJsonContext.Default.StaleReclaimed),
        ("get-job", QueueJsonContext.Default.GetJob),
        ("job", QueueJsonContext.Default.JobInfo),
        ("get-next-due", QueueJsonContext.Default.GetNextDue),
        ("next-due", QueueJsonContext.Default.NextDue),
        ("error", QueueJsonContext.Default.QueueError),
    ];

    private static readonly Dictionary<Type, (string Manifest, JsonTypeInfo Info)> ByType =
        Table.ToDictionary(e => e.Info.Type, e => e);

    private static readonly Dictionary<string, JsonTypeInfo> ByManifest =
        Table.ToDictionary(e => e.Manifest, e => e.Info, StringComparer.Ordinal);

    /// <summary>Created by Akka's serialization extension.</summary>
    public QueueMessageSerializer(ExtendedActorSystem system) : base(system)
    {
    }

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <summary>The types this serializer writes, each with its manifest.</summary>
    public static IReadOnlyDictionary<Type, string> Manifests { get; } =
        Table.ToDictionary(e => e.Info.Type, e => e.Manifest);

    /// <inheritdoc />
    public override string Manifest(object o) => Entry(o).Manifest;

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, Entry(obj).Info);

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!ByManifest.TryGetValue(manifest, out var info))
            throw new SerializationException(
                $"bluesky-queue serializer: unknown manifest '{Printable(manifest)}' ({bytes.Length} bytes dropped)");
        try
        {
            return JsonSerializer.Deserialize(bytes, info)
                   ?? throw new SerializationException($"bluesky-queue serializer: '{manifest}' payload is null");
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or FormatException
                                      or ArgumentException or InvalidOperationException)
        {
            throw new SerializationException(
                $"bluesky-queue serializer: malformed '{manifest}' payload ({bytes.Length} bytes): {e.Message}", e);
        }
    }

    private static (string Manifest, JsonTypeInfo Info) Entry(object o) =>
        ByType.TryGetValue(o.GetType(), out var entry)
            ? entry
            : throw new SerializationException(
                $"bluesky-queue serializer: {o.GetType()} is not a message of the queue protocol");

    // A hostile manifest may be long or hold control characters: keep log lines readable.
    private static string Printable(string s)
    {
        var cut = s.Length > 64 ? s[..64] + "…" : s;
        return string.Concat(cut.Select(c => char.IsControl(c) ? '?' : c));
    }
}
