using System.Globalization;
using System.Text.RegularExpressions;
using QueueActors.Storage;

namespace QueueActors.Cli;

/// <summary>Times and durations as the command line takes them.</summary>
internal static partial class TimeArgs
{
    [GeneratedRegex(@"^\+?(?<n>\d+(\.\d+)?)(?<unit>s|m|h|d|w)$")]
    private static partial Regex DurationPattern();

    /// <summary>A duration such as <c>90s</c>, <c>10m</c>, <c>2h</c>, <c>30d</c>, <c>1w</c> (a leading '+' is allowed).</summary>
    public static TimeSpan ParseDuration(string text, string option)
    {
        var m = DurationPattern().Match(text.Trim());
        if (!m.Success)
            throw new ArgumentException($"{option}: '{text}' is not a duration such as 90s, 10m, 2h, 30d or 1w", option);
        double n = double.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
        return m.Groups["unit"].Value switch
        {
            "s" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            "d" => TimeSpan.FromDays(n),
            _ => TimeSpan.FromDays(7 * n),
        };
    }

    /// <summary>An instant: RFC 3339 with an offset, <c>now</c>, or relative to now such as <c>+10m</c> or <c>+2h</c>.</summary>
    public static DateTimeOffset ParseInstant(string text, string option, DateTimeOffset now)
    {
        var trimmed = text.Trim();
        if (trimmed.Equals("now", StringComparison.OrdinalIgnoreCase)) return now;
        if (trimmed.StartsWith('+')) return now + ParseDuration(trimmed, option);
        try
        {
            return Timestamps.ParseRfc3339(trimmed, option);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException(
                $"{option}: '{text}' is neither a time from now such as +10m, +2h or +1d nor an RFC 3339 time with an offset " +
                $"such as 2026-12-24T09:00:00+08:00 ({e.Message.Replace($" (Parameter '{option}')", "")})", option, e);
        }
    }
}
