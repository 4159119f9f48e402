using Xunit;

namespace QueueActors.Storage.Tests;

/// <summary>
/// A fact that needs the shared corpus (<c>../shared/samples</c>, see <see cref="ValidationSamples"/>); skipped,
/// not failed, on a clone that has no such folder.
/// </summary>
public sealed class SharedSamplesFactAttribute : FactAttribute
{
    public SharedSamplesFactAttribute()
    {
        if (ValidationSamples.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>
/// A theory that needs the shared corpus; skipped, not failed, on a clone that has no such folder. xunit 2 does not
/// enumerate the data of a skipped theory (it is reported as one skipped test), so its member data is not read.
/// </summary>
public sealed class SharedSamplesTheoryAttribute : TheoryAttribute
{
    public SharedSamplesTheoryAttribute()
    {
        if (ValidationSamples.SkipReason is { } reason) Skip = reason;
    }
}
