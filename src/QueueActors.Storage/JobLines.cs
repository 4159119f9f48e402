using System.Globalization;
using System.Text;
using System.Text.Json;

namespace QueueActors.Storage;

/// <summary>
/// The JSON-lines job format of <c>bsq import</c> and <c>bsq demo</c>: one JSON object per line with the fields
/// <c>text</c>, <c>expected_handle</c>, <c>reply_to_uri</c>, <c>reply_to_cid</c>, <c>image_path</c>, <c>image_alt</c>,
/// <c>not_before</c>, <c>dry_run</c>, <c>max_attempts</c> and <c>idempotency_key</c>.
/// </summary>
public static class JobLines
{
    /// <summary>The field names a job line may contain.</summary>
    public static IReadOnlyList<string> KnownFields { get; } =
    [
        "text", "expected_handle", "reply_to_uri", "reply_to_cid", "image_path", "image_alt",
        "not_before", "dry_run", "max_attempts", "idempotency_key",
    ];

    private static readonly Dictionary<string, string> FieldOfProperty = new(StringComparer.Ordinal)
    {
        [nameof(NewJob.Text)] = "text",
        [nameof(NewJob.ExpectedHandle)] = "expected_handle",
        [nameof(NewJob.ReplyToUri)] = "reply_to_uri",
        [nameof(NewJob.ReplyToCid)] = "reply_to_cid",
        [nameof(NewJob.ImagePath)] = "image_path",
        [nameof(NewJob.ImageAlt)] = "image_alt",
        [nameof(NewJob.NotBefore)] = "not_before",
        [nameof(NewJob.DryRun)] = "dry_run",
        [nameof(NewJob.MaxAttempts)] = "max_attempts",
        [nameof(NewJob.IdempotencyKey)] = "idempotency_key",
    };

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Parses and validates one job line; a relative <c>image_path</c> is resolved against <paramref name="baseDirectory"/>.
    /// </summary>
    /// <param name="line">One line of JSON (a single object).</param>
    /// <param name="baseDirectory">The folder relative image paths are resolved against (usually the file's folder).</param>
    /// <param name="maxImageBytes">The size limit of an attached image, in bytes.</param>
    /// <returns>The job, validated by <see cref="JobValidator.Validate"/> (handle normalized, image path absolute).</returns>
    /// <exception cref="JobLineException">The line is not a valid job; <see cref="JobLineException.Field"/> names the field.</exception>
    public static NewJob Parse(string line, string baseDirectory, long maxImageBytes = JobValidator.DefaultMaxImageBytes)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(baseDirectory);

        if (IsBlank(line))
        {
            throw new JobLineException(null, "the line is empty; expected a JSON object");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new JobLineException(null, DescribeJsonError(e), e);
        }

        NewJob job;
        using (document)
        {
            job = Build(document.RootElement, baseDirectory);
        }

        try
        {
            return JobValidator.Validate(job, maxImageBytes);
        }
        catch (ArgumentException e)
        {
            var field = e.ParamName is not null && FieldOfProperty.TryGetValue(e.ParamName, out var f) ? f : e.ParamName;
            throw new JobLineException(field, ReasonOf(e), e);
        }
    }

    /// <summary>
    /// Reads a JSON-lines file as strict UTF-8 and parses every non-blank line; relative image paths are resolved
    /// against the file's folder.
    /// </summary>
    /// <param name="path">The file to read.</param>
    /// <param name="maxImageBytes">The size limit of an attached image, in bytes.</param>
    /// <returns>One result per non-blank line, in file order, each holding the job or the error.</returns>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyList<JobLineResult> ParseFile(string path, long maxImageBytes = JobValidator.DefaultMaxImageBytes)
    {
        ArgumentNullException.ThrowIfNull(path);
        var fullPath = Path.GetFullPath(path);
        var baseDirectory = Path.GetDirectoryName(fullPath) ?? Directory.GetCurrentDirectory();
        var bytes = File.ReadAllBytes(fullPath);

        var results = new List<JobLineResult>();
        var start = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        var lineNumber = 0;
        while (start < bytes.Length)
        {
            var newline = Array.IndexOf(bytes, (byte)'\n', start);
            var end = newline < 0 ? bytes.Length : newline;
            var lineBytes = bytes.AsSpan(start, end - start);
            if (lineBytes.EndsWith((ReadOnlySpan<byte>)[(byte)'\r']))
            {
                lineBytes = lineBytes[..^1];
            }

            lineNumber++;
            start = end + 1;

            string line;
            try
            {
                line = StrictUtf8.GetString(lineBytes);
            }
            catch (DecoderFallbackException e)
            {
                var bad = e.BytesUnknown is { Length: > 0 } unknown ? Inv($" (byte 0x{unknown[0]:X2})") : "";
                results.Add(new JobLineResult(lineNumber, null,
                    new JobLineException(null, $"the line is not valid UTF-8{bad}", e)));
                continue;
            }

            if (IsBlank(line))
            {
                continue;
            }

            try
            {
                results.Add(new JobLineResult(lineNumber, Parse(line, baseDirectory, maxImageBytes), null));
            }
            catch (JobLineException e)
            {
                results.Add(new JobLineResult(lineNumber, null, e));
            }
        }

        return results;
    }

    private static NewJob Build(JsonElement root, string baseDirectory)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JobLineException(null,
                $"the line is {Describe(root)}, not an object; each line must be one JSON object such as {{\"text\": \"...\", \"expected_handle\": \"...\"}}");
        }

        var fields = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        try
        {
            foreach (var property in root.EnumerateObject())
            {
                var name = property.Name;
                if (!KnownFields.Contains(name))
                {
                    throw new JobLineException(name, UnknownFieldReason(name));
                }

                if (!fields.TryAdd(name, property.Value))
                {
                    throw new JobLineException(name, $"field '{name}' appears more than once");
                }
            }
        }
        catch (InvalidOperationException e)
        {
            throw new JobLineException(null, "a field name contains an unpaired UTF-16 surrogate escape", e);
        }

        var text = RequiredString(fields, "text", "every job needs a text (it may be \"\" when an image is attached)");
        var handle = RequiredString(fields, "expected_handle", "give the handle of the account that must publish the job (e.g. alice.example.com)");
        var imagePath = OptionalString(fields, "image_path");
        var idempotencyKey = OptionalString(fields, "idempotency_key");
        if (idempotencyKey is not null && IsBlank(idempotencyKey))
        {
            throw new JobLineException("idempotency_key", "idempotency_key is empty; omit it or give a non-empty key");
        }

        return new NewJob
        {
            Text = text,
            ExpectedHandle = handle,
            ReplyToUri = OptionalString(fields, "reply_to_uri"),
            ReplyToCid = OptionalString(fields, "reply_to_cid"),
            ImagePath = ResolvePath(imagePath, baseDirectory),
            ImageAlt = OptionalString(fields, "image_alt"),
            NotBefore = OptionalTime(fields, "not_before"),
            DryRun = OptionalBoolean(fields, "dry_run") ?? false,
            MaxAttempts = OptionalInt(fields, "max_attempts") ?? 3,
            IdempotencyKey = idempotencyKey,
        };
    }

    private static string RequiredString(Dictionary<string, JsonElement> fields, string name, string hint)
    {
        if (!fields.TryGetValue(name, out var value))
        {
            throw new JobLineException(name, $"{name} is missing; {hint}");
        }

        if (value.ValueKind == JsonValueKind.Null)
        {
            throw new JobLineException(name, $"{name} is null; it must be a string");
        }

        return OptionalString(fields, name)!;
    }

    private static string? OptionalString(Dictionary<string, JsonElement> fields, string name)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new JobLineException(name, $"{name} must be a string, got {Describe(value)}");
        }

        try
        {
            return value.GetString();
        }
        catch (InvalidOperationException e)
        {
            throw new JobLineException(name,
                $"{name} contains an unpaired UTF-16 surrogate escape (such as \\ud83d without its low half), which is not valid Unicode", e);
        }
    }

    private static DateTimeOffset? OptionalTime(Dictionary<string, JsonElement> fields, string name)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            var hint = value.ValueKind == JsonValueKind.Number ? " (a Unix timestamp is not accepted)" : "";
            throw new JobLineException(name,
                $"{name} must be an RFC 3339 date-time string with an offset (e.g. 2026-12-24T09:00:00Z), got {Describe(value)}{hint}");
        }

        var text = OptionalString(fields, name)!;
        try
        {
            return Timestamps.ParseRfc3339(text, name);
        }
        catch (ArgumentException e)
        {
            throw new JobLineException(name, ReasonOf(e), e);
        }
    }

    private static bool? OptionalBoolean(Dictionary<string, JsonElement> fields, string name)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new JobLineException(name, $"{name} must be a JSON boolean (true or false), got {Describe(value)}"),
        };
    }

    private static int? OptionalInt(Dictionary<string, JsonElement> fields, string name)
    {
        if (!fields.TryGetValue(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var number))
        {
            throw new JobLineException(name, $"{name} must be an integer, got {Describe(value)}");
        }

        return number;
    }

    private static string? ResolvePath(string? path, string baseDirectory)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            return path; // the validator explains what is wrong
        }

        try
        {
            return Path.GetFullPath(path, Path.GetFullPath(baseDirectory));
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return path; // the validator explains what is wrong
        }
    }

    private static string UnknownFieldReason(string name)
    {
        var suggestion = NearestKnownField(name);
        return suggestion is null
            ? $"unknown field '{name}' (known fields: {string.Join(", ", KnownFields)})"
            : $"unknown field '{name}' (did you mean '{suggestion}'?)";
    }

    /// <summary>The known field a misspelt name most likely meant, or null when none is close.</summary>
    internal static string? NearestKnownField(string name)
    {
        var lower = name.ToLowerInvariant().Replace('-', '_');
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var known in KnownFields)
        {
            var distance = lower == known ? 0 : Distance(lower, known);
            if (distance < bestDistance)
            {
                best = known;
                bestDistance = distance;
            }
        }

        // Allow about one edit per four characters, at least one and at most three.
        var allowed = Math.Clamp(name.Length / 4, 1, 3);
        return bestDistance <= allowed ? best : null;
    }

    /// <summary>Optimal string alignment distance (Levenshtein with adjacent transpositions).</summary>
    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                var v = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    v = Math.Min(v, d[i - 2, j - 2] + 1);
                }

                d[i, j] = v;
            }
        }

        return d[a.Length, b.Length];
    }

    private static string DescribeJsonError(JsonException e)
    {
        var message = e.Message;
        var cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        if (cut >= 0)
        {
            message = message[..cut];
        }

        message = message.Replace(" Change the reader options.", "", StringComparison.Ordinal).Trim();

        string detail;
        if (message.Contains("trailing comma", StringComparison.Ordinal))
        {
            detail = "trailing comma before the closing '}' or ']'";
        }
        else if (message.StartsWith("Expected depth to be zero", StringComparison.Ordinal))
        {
            detail = "the line ends before the object is closed (missing '}' or ']')";
        }
        else if (message.StartsWith("''' is an invalid start of a property name", StringComparison.Ordinal)
                 || message.StartsWith("''' is an invalid start of a value", StringComparison.Ordinal))
        {
            detail = "single-quoted strings are not JSON; use double quotes";
        }
        else if (message.Contains("is an invalid start of a property name", StringComparison.Ordinal))
        {
            detail = "a field name must be a string in double quotes";
        }
        else if (message.Contains("is invalid within a JSON string", StringComparison.Ordinal))
        {
            var quoted = message.Split('\'');
            var what = quoted.Length >= 2 ? $"control character {quoted[1]}" : "a control character";
            detail = $"{what} inside a string must be escaped (e.g. \\t, \\n)";
        }
        else if (message.Contains("is invalid after a single JSON value", StringComparison.Ordinal))
        {
            detail = "unexpected text after the JSON object";
        }
        else
        {
            detail = message;
        }

        return e.BytePositionInLine is { } position
            ? Inv($"invalid JSON at byte {position + 1}: {detail}")
            : $"invalid JSON: {detail}";
    }

    private static string Describe(JsonElement value)
    {
        var raw = value.GetRawText();
        if (raw.Length > 40)
        {
            raw = string.Concat(raw.AsSpan(0, 37), "...");
        }

        return value.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => $"a string ({raw})",
            JsonValueKind.Number => $"a number ({raw})",
            JsonValueKind.True or JsonValueKind.False => $"a boolean ({raw})",
            JsonValueKind.Null => "null",
            _ => "an unknown value",
        };
    }

    /// <summary>The message of an <see cref="ArgumentException"/> without the " (Parameter 'x')" suffix.</summary>
    private static string ReasonOf(ArgumentException e)
    {
        var message = e.Message;
        if (e.ParamName is not null)
        {
            var suffix = $" (Parameter '{e.ParamName}')";
            if (message.EndsWith(suffix, StringComparison.Ordinal))
            {
                message = message[..^suffix.Length];
            }
        }

        return message;
    }

    /// <summary>True when the text holds only JSON whitespace (space, tab, CR, LF).</summary>
    private static bool IsBlank(string text) => text.AsSpan().TrimStart(" \t\r\n").IsEmpty;

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A job line that is not a valid job: which field is wrong and why.</summary>
public sealed class JobLineException : Exception
{
    /// <summary>Creates the exception for <paramref name="field"/> (null when the line is not valid JSON).</summary>
    /// <param name="field">The snake_case field name, or null when the line as a whole is wrong.</param>
    /// <param name="reason">What is wrong, for a person to read.</param>
    /// <param name="innerException">The underlying error, if any.</param>
    public JobLineException(string? field, string reason, Exception? innerException = null)
        : base(reason, innerException)
    {
        Field = field;
        Reason = reason;
    }

    /// <summary>The snake_case name of the offending field; null when the line is not valid JSON or not an object.</summary>
    public string? Field { get; }

    /// <summary>What is wrong, for a person to read.</summary>
    public string Reason { get; }
}

/// <summary>The outcome of one non-blank line of a job file: the job, or the error.</summary>
/// <param name="LineNumber">The 1-based line number in the file.</param>
/// <param name="Job">The validated job; null when the line was rejected.</param>
/// <param name="Error">Why the line was rejected; null when it was accepted.</param>
public sealed record JobLineResult(int LineNumber, NewJob? Job, JobLineException? Error)
{
    /// <summary>True when the line holds a valid job.</summary>
    public bool IsValid => Job is not null;
}
