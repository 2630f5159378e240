using System;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>Lockless walkers (single translations, GUP-fast ranges, a walk lingering over a whole table), CPUs
/// translating through their TLBs and table readers that hold one read-side section across several passes over a
/// PTE table race a writer that collapses regions (in place and with a copy), re-splits them, unmaps them
/// (reclaiming their tables) and maps them again (<see cref="CollapseStress"/>), in checked mode: freed tables are
/// poisoned at once and their frames usually handed out again first (the buddy allocator's free lists are LIFO),
/// so a table freed before a reader left its section is read as poison or as another table's entries. At the end
/// every deferred table has been freed and every counter balances. The run lasts about a second;
/// <c>FASTPT_STRESS_SECONDS</c> sets a longer one.</summary>
public class FragmentStressTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(1, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(1, PteFreeDeferScheme.DeferredRefcount)]
    [InlineData(2, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(2, PteFreeDeferScheme.DeferredRefcount)]
    [InlineData(16, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(16, PteFreeDeferScheme.DeferredRefcount)]
    public void Walkers_never_read_a_freed_table_and_every_deferred_table_is_freed(int perBlock, PteFreeDeferScheme scheme)
    {
        int milliseconds = int.TryParse(Environment.GetEnvironmentVariable("FASTPT_STRESS_SECONDS"), out int s) ? s * 1000 : 900;
        using Machine machine = FragmentMachines.Create(perBlock, scheme, checkedMode: true, memory: 2 * GiB);
        var settings = new CollapseStress.Settings(TimeSpan.FromMilliseconds(milliseconds), Seed: 11, MinimumCollapses: 4,
            StretchBound: TimeSpan.FromSeconds(30), StopAtFirstViolation: true);
        CollapseStress.Outcome o = CollapseStress.Run(machine, settings, Bound);

        Assert.Null(o.Failure);
        Assert.True(o.Violations == 0, $"{o.Violations} violations, the first after {o.FirstViolationAfter?.TotalMilliseconds:F0} ms: {o.FirstViolation}");
        Assert.True(o.Verified > 0 && o.TablesRead > 0 && o.CollapsesInPlace > 0 && o.CollapsesWithCopy > 0,
            $"verified {o.Verified}, tables read {o.TablesRead}, collapses {o.CollapsesInPlace} in place and {o.CollapsesWithCopy} with a copy");
        Assert.Empty(o.Unbalanced(scheme));
    }
}
