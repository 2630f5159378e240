using System.Linq;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Paging;

/// <summary><c>Discard</c> has Linux <c>munmap</c>'s semantics beside the strict <c>Unmap</c> (Unicorn's): it unmaps
/// whatever is mapped in the range and succeeds over holes, splitting huge pages the range cuts and freeing the
/// tables that become empty; a bad range is still refused with nothing changed.</summary>
public class DiscardTests
{
    private static readonly VirtAddr Base = V(1UL << 39);

    [Fact]
    public void Discard_unmaps_what_is_mapped_and_succeeds_over_holes()
    {
        using Machine machine = Create(1 * GiB);
        long freeBefore = machine.GetStatistics().FreePages;
        AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(4 * MiB);
        // 4 KiB pages, a hole, a 2 MiB leaf, a hole, then a 2 MiB leaf the range cuts in half.
        space.Map(Base, frames, 3 * Page, Protection.ReadWrite);
        space.Map(Base + 2 * MiB, frames, 2 * MiB, Protection.Read, PageSize.Size2M);
        space.Map(Base + 6 * MiB, frames + 2 * MiB, 2 * MiB, Protection.Read, PageSize.Size2M);
        ulong length = 7 * MiB;

        var before = space.Dump(Base, 8 * MiB).ToList();
        PagingResult strict = space.TryUnmap(Base, length);
        Assert.Equal(PagingError.NotMapped, strict.Error);
        Assert.Equal(before, space.Dump(Base, 8 * MiB).ToList());

        space.Discard(Base, length);
        for (ulong a = 0; a < length; a += Page) Assert.Null(space.Lookup(Base + a));
        // The half of the cut leaf outside the range stays, now as 4 KiB pages.
        Mapping? kept = space.Lookup(Base + 7 * MiB);
        Assert.NotNull(kept);
        Assert.Equal(frames + 3 * MiB, kept.Value.Frame);
        Assert.Equal(PageSize.Size4K, kept.Value.Size);
        Assert.False(space.TryTranslate(Base + Page, AccessKind.Read, out _));
        Assert.True(space.TryTranslate(Base + 7 * MiB, AccessKind.Read, out _));

        // Everything else: a discard of the rest and of nothing at all succeed, and every table goes.
        space.Discard(Base, 8 * MiB);
        long published = space.FlushesPublished;
        Assert.True(space.TryDiscard(Base, 1 * GiB).IsSuccess);
        Assert.Equal(published, space.FlushesPublished); // nothing was mapped: nothing to flush
        Assert.Equal(0UL, space.MappedBytes);
        PageTableCounts tables = space.PageTables;
        Assert.Equal(0, tables.Pte + tables.Pmd + tables.Pud);
        space.Dispose();
        machine.FreePhysical(frames, 4 * MiB);
        Assert.Equal(freeBefore, machine.GetStatistics().FreePages);
        Assert.Equal(0, machine.GetStatistics().UseAfterFreeDetected);
    }

    [Fact]
    public void Discard_refuses_a_bad_range_with_nothing_changed()
    {
        using Machine machine = Create(1 * GiB);
        AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(Page);
        space.Map(Base, frames, Page, Protection.ReadWrite);
        Assert.Equal(PagingError.Misaligned, space.TryDiscard(Base + 1, Page).Error);
        Assert.Equal(PagingError.Misaligned, space.TryDiscard(Base, Page + 1).Error);
        Assert.False(space.TryDiscard(Base, 0).IsSuccess);
        Assert.Equal(PagingError.NonCanonical, space.TryDiscard(space.UserTop, Page).Error); // 2^47 is past the lower half
        Assert.Throws<PagingException>(() => space.Discard(space.UserTop - Page, 2 * Page));
        Assert.NotNull(space.Lookup(Base));
    }
}
