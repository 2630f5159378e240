using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary>Everything about an address space that a failed operation must leave alone: the leaves of the
/// inspected regions (with their Accessed/Dirty bits), the table counts, the leaf counts and the machine's free
/// frames and page-table statistics.</summary>
internal sealed record TableSnapshot(
    string Leaves,
    PageTableCounts Tables,
    long Leaves4K,
    long Leaves2M,
    long Leaves1G,
    ulong MappedBytes,
    long FreePages,
    long PageTablePages,
    string UserTablesByLevel)
{
    /// <summary>Takes a snapshot of the leaves of every region (the whole space when none is given: both halves of
    /// a guest's).</summary>
    public static TableSnapshot Take(Machine machine, AddressSpace space, params (ulong Start, ulong Length)[] regions)
    {
        if (regions.Length == 0) regions = PagingFixtures.WholeSpace(space);
        var text = new System.Text.StringBuilder();
        foreach ((ulong start, ulong length) in regions)
        {
            foreach (MappingRun run in space.Dump(V(start), length))
            {
                // Runs say where the leaves are; the first and last leaf of each run also show A/D.
                Mapping? first = space.Lookup(run.Start);
                Mapping? last = space.Lookup(run.Start + (run.Length - run.PageSize.Bytes()));
                text.Append(run).Append(' ').Append(first).Append(' ').Append(last).Append('\n');
            }
        }
        MemoryStatistics s = machine.GetStatistics();
        return new TableSnapshot(text.ToString(), space.PageTables, space.LeafCount(PageSize.Size4K),
            space.LeafCount(PageSize.Size2M), space.LeafCount(PageSize.Size1G), space.MappedBytes, s.FreePages,
            s.PageTablePages, string.Join(",", s.UserPageTablesByLevel));
    }
}

/// <summary>Assertions and arithmetic shared by the paging tests.</summary>
internal static class PagingFixtures
{
    public const ulong TiB = 1UL << 40;

    public static readonly Protection[] Protections =
        [Protection.None, Protection.Read, Protection.Write, Protection.Execute, Protection.ReadWrite, Protection.ReadExecute, Protection.All];

    /// <summary>What a protection means once Write/Execute imply Read.</summary>
    public static Protection Normalized(Protection protection) =>
        protection == Protection.None ? Protection.None : protection | Protection.Read;

    /// <summary>An 8 GiB machine and a 1 GiB-aligned 1 GiB block of data frames on it: page tables never come from
    /// the block, so writes through mappings into it cannot damage a table.</summary>
    public static (Machine Machine, PhysAddr Pool) MachineWithPool(PagingMode mode = PagingMode.FourLevel, bool checkedMode = true)
    {
        Machine machine = Create(8 * GiB, mode, checkedMode);
        PhysAddr pool = machine.AllocatePhysical(GiB);
        Assert.Equal(0UL, pool.Value % GiB);
        return (machine, pool);
    }

    /// <summary>Asserts a result failed with <paramref name="error"/> at <paramref name="address"/>.</summary>
    public static void AssertFailed(PagingResult result, PagingError error, ulong address)
    {
        Assert.False(result.IsSuccess, $"expected {error} at 0x{address:x}, the operation succeeded");
        Assert.True(error == result.Error, $"expected {error} at 0x{address:x}, got {result}");
        Assert.True(address == result.Address.Value, $"expected {error} at 0x{address:x}, got {result}");
    }

    /// <summary>Runs the Try form and the throwing form of a failing operation: both must report
    /// <paramref name="error"/> at <paramref name="address"/>, and neither may change anything.</summary>
    public static PagingResult AssertFailsAndChangesNothing(Machine machine, AddressSpace space, Func<PagingResult> tryForm,
        Action throwingForm, PagingError error, ulong address, params (ulong Start, ulong Length)[] regions)
    {
        TableSnapshot before = TableSnapshot.Take(machine, space, regions);
        PagingResult result = tryForm();
        AssertFailed(result, error, address);
        Assert.Equal(before, TableSnapshot.Take(machine, space, regions));
        PagingException exception = Assert.Throws<PagingException>(throwingForm);
        Assert.Equal(error, exception.Error);
        Assert.Equal(address, exception.Address.Value);
        Assert.Equal(result, exception.Result);
        Assert.Equal(before, TableSnapshot.Take(machine, space, regions));
        return result;
    }

    /// <summary>The ranges that make up the whole space, each inside one canonical half: [0, user top), and for a
    /// guest also [higher-half start, 2^64) (its length is 2^64 minus its start).</summary>
    public static (ulong Start, ulong Length)[] WholeSpace(AddressSpace space) =>
        space.Layout == AddressSpaceLayout.FullCanonical
            ? [(0, space.UserTop.Value), (space.HigherHalfStart.Value, 0UL - space.HigherHalfStart.Value)]
            : [(0, space.UserTop.Value)];

    /// <summary>Leaves of the whole space (both halves of a guest's).</summary>
    public static List<(ulong Va, ulong Pa, PageSize Size, Protection Protection)> AllLeaves(AddressSpace space) =>
        WholeSpace(space).SelectMany(r => Leaves(space, r.Start, r.Length)).ToList();

    /// <summary>The tables the leaves of a dump need, by the rule of <see cref="ExpectedTables"/>, counted from
    /// runs without expanding them leaf by leaf.</summary>
    public static PageTableCounts ExpectedTablesOfRuns(IEnumerable<MappingRun> runs, PagingMode mode)
    {
        var pte = new HashSet<ulong>();
        var pmd = new HashSet<ulong>();
        var pud = new HashSet<ulong>();
        var p4d = new HashSet<ulong>();
        foreach (MappingRun run in runs)
        {
            ulong first = run.Start.Value;
            ulong last = run.Start.Value + run.Length - 1;
            if (run.PageSize == PageSize.Size4K) AddRegions(pte, first, last, 21);
            if (run.PageSize != PageSize.Size1G) AddRegions(pmd, first, last, 30);
            AddRegions(pud, first, last, 39);
            if (mode == PagingMode.FiveLevel) AddRegions(p4d, first, last, 48);
        }
        return new PageTableCounts(pte.Count, pmd.Count, pud.Count, p4d.Count);
    }

    private static void AddRegions(HashSet<ulong> set, ulong first, ulong last, int shift)
    {
        for (ulong r = first >> shift; r <= last >> shift; r++) set.Add(r);
    }

    /// <summary>Asserts the table counts of <paramref name="space"/> are exactly what its leaves need (so no empty
    /// table is kept and none is missing), that VmPTE follows, and that the machine's per-level statistics agree.</summary>
    public static void AssertTablesMatchLeaves(Machine machine, AddressSpace space, string context = "")
    {
        List<MappingRun> runs = WholeSpace(space).SelectMany(r => space.Dump(V(r.Start), r.Length)).ToList();
        PageTableCounts expected = ExpectedTablesOfRuns(runs, machine.PagingMode);
        PageTableCounts actual = space.PageTables;
        Assert.True(expected == actual, $"{context} tables: expected {expected} from the leaves, actual {actual}");
        Assert.Equal((expected.Pte + expected.Pmd + expected.Pud) * 4, actual.VmPteKiB);
        if (machine.PagingMode == PagingMode.FourLevel) Assert.Equal(0, actual.P4d);
    }

    /// <summary>Asserts the dump of [start, +length) is exactly these runs (start, length, physical, size, rights).</summary>
    public static void AssertRuns(AddressSpace space, ulong start, ulong length, params (ulong Start, ulong Length, ulong Physical, PageSize Size, Protection Protection)[] expected)
    {
        List<MappingRun> actual = space.Dump(V(start), length).ToList();
        string Describe(IEnumerable<MappingRun> runs) => string.Join("\n", runs);
        var want = expected.Select(e => new MappingRun(V(e.Start), e.Length, P(e.Physical), e.Size, e.Protection, (long)(e.Length / e.Size.Bytes()))).ToList();
        Assert.True(want.SequenceEqual(actual), $"expected runs:\n{Describe(want)}\nactual runs:\n{Describe(actual)}");
    }
}
