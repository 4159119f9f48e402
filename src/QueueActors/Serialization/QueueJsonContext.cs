using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;
using QueueActors.Storage;

namespace QueueActors.Serialization;

/// <summary>
/// Compile-time JSON contracts of the protocol messages. Strict on reading: unknown fields, missing
/// required fields and nulls in non-nullable fields are errors, never silently defaulted.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    IgnoreReadOnlyProperties = true,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    Converters = [typeof(JobStatusConverter), typeof(ExactStringConverter)])]
[JsonSerializable(typeof(Enqueue))]
[JsonSerializable(typeof(Enqueued))]
[JsonSerializable(typeof(ClaimNext))]
[JsonSerializable(typeof(JobClaimed))]
[JsonSerializable(typeof(MarkPosted))]
[JsonSerializable(typeof(MarkFailed))]
[JsonSerializable(typeof(MarkRetry))]
[JsonSerializable(typeof(ExtendLease))]
[JsonSerializable(typeof(JobUpdated))]
[JsonSerializable(typeof(GetStats))]
[JsonSerializable(typeof(QueueStats))]
[JsonSerializable(typeof(GetDailyCount))]
[JsonSerializable(typeof(IncrementDaily))]
[JsonSerializable(typeof(DailyCount))]
[JsonSerializable(typeof(ReclaimStale))]
[JsonSerializable(typeof(StaleReclaimed))]
[JsonSerializable(typeof(GetJob))]
[JsonSerializable(typeof(JobInfo))]
[JsonSerializable(typeof(GetNextDue))]
[JsonSerializable(typeof(NextDue))]
[JsonSerializable(typeof(QueueError))]
internal sealed partial class QueueJsonContext : JsonSerializerContext;

/// <summary>A job status as the card's strings (<c>queued</c>, <c>in_progress</c>, …), as in the database.</summary>
internal sealed class JobStatusConverter : JsonConverter<JobStatus>
{
    public override JobStatus Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw new JsonException($"a job status is a string, not {reader.TokenType}");
        try
        {
            return JobStatuses.FromDb(reader.GetString()!);
        }
        catch (FormatException e)
        {
            throw new JsonException(e.Message, e);
        }
    }

    public override void Write(Utf8JsonWriter writer, JobStatus value, JsonSerializerOptions options) =>
        writer.WriteStringValue(JobStatuses.ToDb(value));
}

/// <summary>
/// Strings cross the wire exactly. JSON cannot carry an unpaired UTF-16 surrogate (System.Text.Json would
/// write U+FFFD instead, and a text the service must reject would arrive as another, valid one), so such a
/// string is sent as <c>{"utf16le": "&lt;base64&gt;"}</c>; every other string is a plain JSON string.
/// </summary>
internal sealed class ExactStringConverter : JsonConverter<string>
{
    private const string Utf16Property = "utf16le";

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.String) return reader.GetString()!;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException($"expected a string, not {reader.TokenType}");
        if (!reader.Read() || reader.TokenType != JsonTokenType.PropertyName || !reader.ValueTextEquals(Utf16Property)
            || !reader.Read() || reader.TokenType != JsonTokenType.String)
            throw new JsonException($"an object in place of a string must be {{\"{Utf16Property}\": base64}}");
        var bytes = reader.GetBytesFromBase64();
        if (bytes.Length % 2 != 0) throw new JsonException($"{Utf16Property} holds an odd number of bytes");
        if (!reader.Read() || reader.TokenType != JsonTokenType.EndObject)
            throw new JsonException($"an object in place of a string holds only {Utf16Property}");
        var chars = new char[bytes.Length / 2];
        for (int i = 0; i < chars.Length; i++) chars[i] = (char)BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(i * 2));
        return new string(chars);
    }

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options)
    {
        if (IsWellFormed(value))
        {
            writer.WriteStringValue(value);
            return;
        }
        var bytes = new byte[value.Length * 2];
        for (int i = 0; i < value.Length; i++)
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), value[i]);
        writer.WriteStartObject();
        writer.WriteBase64String(Utf16Property, bytes);
        writer.WriteEndObject();
    }

    private static bool IsWellFormed(string value)
    {
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1])) return false;
                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
        }
        return true;
    }
}
