using System.Security.Cryptography;

namespace QueueActors.Storage;

/// <summary>
/// Generates atproto TIDs: 53 bits of microseconds since the Unix epoch and 10 bits of clock id,
/// written as 13 characters of base32-sortable. Keys from one generator strictly increase even when
/// the clock stands still or steps back; the random clock id keeps processes apart.
/// </summary>
public sealed class RecordKeys
{
    private const string Alphabet = "234567abcdefghijklmnopqrstuvwxyz";
    private readonly TimeProvider _time;
    private readonly long _clockId = RandomNumberGenerator.GetInt32(1024);
    private long _lastMicros;
    private readonly Lock _gate = new();

    /// <summary>Creates a generator reading the given clock.</summary>
    public RecordKeys(TimeProvider time) => _time = time;

    /// <summary>The next key: greater than every key this generator returned before.</summary>
    public string Next()
    {
        long micros = (_time.GetUtcNow().UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        lock (_gate)
        {
            if (micros <= _lastMicros) micros = _lastMicros + 1;
            _lastMicros = micros;
        }
        return Encode((micros << 10) | _clockId);
    }

    /// <summary>True when <paramref name="key"/> has TID syntax.</summary>
    public static bool IsValid(string? key) =>
        key is { Length: 13 } && "234567abcdefghij".Contains(key[0]) && key.All(c => Alphabet.Contains(c));

    internal static string Encode(long value)
    {
        Span<char> chars = stackalloc char[13];
        for (int i = 12; i >= 0; i--)
        {
            chars[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
        return new string(chars);
    }
}
