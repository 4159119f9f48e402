using System.Globalization;

namespace QueueActors.Bench;

/// <summary>Latency percentiles of one measurement, in milliseconds.</summary>
internal sealed record Latency(int Count, double P50, double P99, double Mean, double Max)
{
    public static Latency Of(IEnumerable<double> samplesMs)
    {
        var sorted = samplesMs.ToArray();
        Array.Sort(sorted);
        if (sorted.Length == 0) return new Latency(0, double.NaN, double.NaN, double.NaN, double.NaN);
        return new Latency(sorted.Length, Percentile(sorted, 50), Percentile(sorted, 99), sorted.Average(), sorted[^1]);
    }

    /// <summary>Nearest-rank percentile of sorted samples.</summary>
    public static double Percentile(double[] sorted, double p)
    {
        int rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}

/// <summary>One measured figure of one run.</summary>
internal sealed record Figure
{
    public required string Workload { get; init; }
    public required string Variant { get; init; }
    public long? Size { get; init; }
    public int Run { get; init; }
    public int Jobs { get; init; }
    public double Seconds { get; init; }
    [System.Text.Json.Serialization.JsonIgnore]
    public double JobsPerSecond => Seconds > 0 ? Jobs / Seconds : double.NaN;

    [System.Text.Json.Serialization.JsonPropertyName("jobs_per_second")]
    public double? JobsPerSecondOrNull => Seconds > 0 ? Jobs / Seconds : null;
    public Latency? Latency { get; init; }
    public long? WalEndBytes { get; init; }
    public long? WalMaxBytes { get; init; }
    public Dictionary<string, object?> Extra { get; init; } = new();
}

/// <summary>Median and range of one metric over the runs.</summary>
internal sealed record Spread(double Median, double Min, double Max, int Runs)
{
    public static Spread Of(IEnumerable<double> values)
    {
        var v = values.Where(x => !double.IsNaN(x)).OrderBy(x => x).ToArray();
        if (v.Length == 0) return new Spread(double.NaN, double.NaN, double.NaN, 0);
        double median = v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        return new Spread(median, v[0], v[^1], v.Length);
    }

    public string Format(string format)
    {
        string F(double x) => double.IsNaN(x) ? "-" : x.ToString(format, CultureInfo.InvariantCulture);
        return Runs <= 1 ? F(Median) : $"{F(Median)} ({F(Min)}–{F(Max)})";
    }
}

/// <summary>A ratio measured within each run (side by side), summarised over the runs.</summary>
internal sealed record RatioSummary(string Name, Spread Value, string? Target = null, bool? Met = null);

/// <summary>Prints aligned text tables.</summary>
internal static class Table
{
    public static void Print(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = new List<IReadOnlyList<string>> { header };
        all.AddRange(rows);
        int columns = header.Count;
        var widths = Enumerable.Range(0, columns).Select(i => all.Max(r => i < r.Count ? r[i].Length : 0)).ToArray();
        foreach (var (row, index) in all.Select((r, i) => (r, i)))
        {
            Console.WriteLine("  " + string.Join("  ", Enumerable.Range(0, columns).Select(i =>
                (i < row.Count ? row[i] : "").PadRight(widths[i]))).TrimEnd());
            if (index == 0) Console.WriteLine("  " + string.Join("  ", widths.Select(w => new string('-', w))));
        }
    }

    public static string Bytes(double bytes) => double.IsNaN(bytes) ? "-"
        : bytes >= 1 << 20 ? (bytes / (1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MiB"
        : bytes >= 1 << 10 ? (bytes / (1 << 10)).ToString("0", CultureInfo.InvariantCulture) + " KiB"
        : bytes.ToString("0", CultureInfo.InvariantCulture) + " B";
}
