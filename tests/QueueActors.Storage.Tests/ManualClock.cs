namespace QueueActors.Storage.Tests;

/// <summary>
/// A <see cref="TimeProvider"/> whose time only moves when a test says so: set it, or advance it.
/// Thread-safe. Used instead of sleeps wherever behaviour depends on time.
/// </summary>
public sealed class ManualClock : TimeProvider
{
    private readonly object _gate = new();
    private DateTimeOffset _now;

    /// <summary>A clock standing at 2026-12-03T09:00:00Z.</summary>
    public ManualClock()
        : this(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>A clock standing at <paramref name="start"/>.</summary>
    public ManualClock(DateTimeOffset start) => _now = start.ToUniversalTime();

    /// <summary>The clock's current time (UTC); setting it moves the clock there, backwards too.</summary>
    public DateTimeOffset UtcNow
    {
        get { lock (_gate) return _now; }
        set { lock (_gate) _now = value.ToUniversalTime(); }
    }

    /// <inheritdoc />
    public override DateTimeOffset GetUtcNow() => UtcNow;

    /// <inheritdoc />
    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    /// <summary>Moves the clock forward (or back, with a negative span) and returns the new time.</summary>
    public DateTimeOffset Advance(TimeSpan by)
    {
        lock (_gate)
        {
            _now += by;
            return _now;
        }
    }

    /// <summary>Moves the clock to <paramref name="to"/> (any offset; stored as UTC).</summary>
    public void Set(DateTimeOffset to) => UtcNow = to;
}
