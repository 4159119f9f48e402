using System.Globalization;
using System.Text.RegularExpressions;

namespace QueueActors.Storage;

/// <summary>Parsing of times given as text (JSON lines, the command line): RFC 3339 date-times with an offset.</summary>
public static partial class Timestamps
{
    private const string Example = "2026-12-24T09:00:00Z or 2026-12-24T18:00:00+09:00";

    /// <summary>
    /// Parses an RFC 3339 date-time that carries a UTC offset (<c>Z</c> or <c>±hh:mm</c>) and returns it as UTC.
    /// </summary>
    /// <param name="text">The text to parse, e.g. <c>2026-12-24T09:00:00.250+09:00</c>.</param>
    /// <param name="field">The name of the field being parsed; used as the exception's ParamName and in its message.</param>
    /// <returns>The instant, with a zero offset.</returns>
    /// <exception cref="ArgumentException">The text is not such a date-time; the message says why.</exception>
    public static DateTimeOffset ParseRfc3339(string text, string field)
    {
        ArgumentNullException.ThrowIfNull(field);
        if (text is null)
        {
            throw new ArgumentException($"{field} is missing; expected an RFC 3339 date-time such as {Example}", field);
        }

        var shown = Shorten(text);
        if (DateOnlyPattern().IsMatch(text))
        {
            throw Invalid(field, shown, $"it is a date without a time and offset; expected e.g. {Example}");
        }

        var m = DateTimePattern().Match(text);
        if (!m.Success)
        {
            throw Invalid(field, shown, $"expected e.g. {Example}");
        }

        var problems = new List<string>();
        if (m.Groups["sep"].Value == " ")
        {
            problems.Add("a space separates date and time where RFC 3339 needs 'T'");
        }

        if (!m.Groups["s"].Success)
        {
            problems.Add("the seconds are missing (the time must be hh:mm:ss)");
        }

        TimeSpan offset = TimeSpan.Zero;
        var off = m.Groups["off"].Value;
        if (off.Length == 0)
        {
            problems.Add("it has no UTC offset (add 'Z' or an offset such as '+09:00'; a time without an offset is ambiguous)");
        }
        else if (off is "Z" or "z")
        {
            offset = TimeSpan.Zero;
        }
        else if (OffsetPattern().Match(off) is { Success: true } om)
        {
            var oh = Int(om.Groups["h"].Value);
            var omin = Int(om.Groups["m"].Value);
            if (oh > 14 || omin > 59 || (oh == 14 && omin > 0))
            {
                problems.Add($"the offset '{off}' is out of range (at most ±14:00)");
            }
            else
            {
                offset = new TimeSpan(oh, omin, 0);
                if (om.Groups["sign"].Value == "-")
                {
                    offset = -offset;
                }
            }
        }
        else if (OffsetWithoutColonPattern().IsMatch(off))
        {
            problems.Add($"the offset '{off}' needs a colon ('{off[..3]}:{off[3..]}')");
        }
        else if (OffsetHoursOnlyPattern().IsMatch(off))
        {
            problems.Add($"the offset '{off}' needs minutes ('{off}:00')");
        }
        else
        {
            problems.Add($"unexpected text '{Shorten(off)}' after the time (expected 'Z' or an offset such as '+09:00')");
        }

        var year = Int(m.Groups["y"].Value);
        var month = Int(m.Groups["mo"].Value);
        var day = Int(m.Groups["d"].Value);
        var hour = Int(m.Groups["h"].Value);
        var minute = Int(m.Groups["mi"].Value);
        var second = m.Groups["s"].Success ? Int(m.Groups["s"].Value) : 0;

        if (year < 1)
        {
            problems.Add("year 0000 is out of range");
        }

        if (month is < 1 or > 12)
        {
            problems.Add($"month {month:00} is out of range (01-12)");
        }
        else if (year >= 1 && (day < 1 || day > DateTime.DaysInMonth(year, month)))
        {
            problems.Add($"day {day:00} is out of range for {year:0000}-{month:00}");
        }

        if (hour > 23)
        {
            problems.Add($"hour {hour:00} is out of range (00-23)");
        }

        if (minute > 59)
        {
            problems.Add($"minute {minute:00} is out of range (00-59)");
        }

        if (second == 60)
        {
            problems.Add("second 60 (a leap second) cannot be represented");
        }
        else if (second > 59)
        {
            problems.Add($"second {second:00} is out of range (00-59)");
        }

        if (problems.Count > 0)
        {
            throw Invalid(field, shown, string.Join("; ", problems));
        }

        // Fractional seconds: 100 ns ticks keep 7 digits; finer digits are dropped.
        long ticks = 0;
        if (m.Groups["f"].Success)
        {
            var digits = m.Groups["f"].Value;
            digits = digits.Length > 7 ? digits[..7] : digits.PadRight(7, '0');
            ticks = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
        }

        try
        {
            var local = new DateTimeOffset(year, month, day, hour, minute, second, offset).AddTicks(ticks);
            return local.ToUniversalTime();
        }
        catch (ArgumentOutOfRangeException)
        {
            throw Invalid(field, shown, "the instant is outside the representable range");
        }
    }

    private static ArgumentException Invalid(string field, string shown, string why) =>
        new($"{field} '{shown}' is not a valid RFC 3339 date-time: {why}", field);

    private static int Int(string digits) => int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);

    private static string Shorten(string text) => text.Length <= 60 ? text : string.Concat(text.AsSpan(0, 57), "...");

    [GeneratedRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex DateOnlyPattern();

    [GeneratedRegex(
        "^(?<y>[0-9]{4})-(?<mo>[0-9]{2})-(?<d>[0-9]{2})(?<sep>[Tt ])(?<h>[0-9]{2}):(?<mi>[0-9]{2})(?::(?<s>[0-9]{2})(?:\\.(?<f>[0-9]+))?)?(?<off>.*)\\z",
        RegexOptions.CultureInvariant | RegexOptions.Singleline)]
    private static partial Regex DateTimePattern();

    [GeneratedRegex("^(?<sign>[+-])(?<h>[0-9]{2}):(?<m>[0-9]{2})\\z", RegexOptions.CultureInvariant)]
    private static partial Regex OffsetPattern();

    [GeneratedRegex("^[+-][0-9]{4}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex OffsetWithoutColonPattern();

    [GeneratedRegex("^[+-][0-9]{2}\\z", RegexOptions.CultureInvariant)]
    private static partial Regex OffsetHoursOnlyPattern();
}
