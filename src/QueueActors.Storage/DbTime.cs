using System.Globalization;

namespace QueueActors.Storage;

/// <summary>
/// The one canonical text form of instants in the database: UTC, <c>yyyy-MM-dd HH:mm:ss.ffffff</c>.
/// It shares its prefix with SQLite's <c>datetime('now')</c>, so the card's default rows and ours
/// compare correctly as text; rows other writers store with <c>T</c> or offsets are rewritten to it
/// by the schema's triggers, and <see cref="Parse"/> reads them all anyway.
/// </summary>
internal static class DbTime
{
    private const string Format = "yyyy-MM-dd HH:mm:ss.ffffff";

    public static string ToDb(DateTimeOffset value) =>
        value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    public static DateTimeOffset Parse(string text)
    {
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
            return value;
        throw new FormatException($"Cannot read the stored time '{text}'.");
    }

    public static DateTimeOffset? ParseNullable(string? text) => text is null ? null : ParseLenient(text);

    /// <summary>
    /// As <see cref="Parse"/>, but a time no one can read (left by another program before the schema
    /// refused them; such jobs are failed with the reason) reads as <see cref="DateTimeOffset.MinValue"/>
    /// instead of making the whole row unreadable.
    /// </summary>
    public static DateTimeOffset ParseLenient(string text) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value) ? value : DateTimeOffset.MinValue;

    /// <summary>Truncates to the microseconds the database keeps, so values round-trip exactly.</summary>
    public static DateTimeOffset Truncate(DateTimeOffset value) =>
        new(value.UtcTicks - value.UtcTicks % 10, TimeSpan.Zero);
}
