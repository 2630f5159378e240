using System;
using System.Threading;
using FastPt.Mm;
using FastPt.Sync;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Fragments;

/// <summary>The lockless walkers: they answer like the MMU, and the <c>pmd_same</c> re-check keeps them from
/// answering out of a PTE table that was unlinked while they read it.</summary>
public class LocklessWalkTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public void Lockless_translation_agrees_with_the_mmu_on_every_kind_of_entry()
    {
        using Machine machine = FragmentMachines.Create(16, memory: 4 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr pool = machine.AllocatePhysical(GiB);
        space.Map(V(GiB), pool, 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Map(V(2 * GiB), pool, 4 * MiB, Protection.Read, PageSize.Size2M);
        space.Map(V(4 * GiB), pool, GiB, Protection.ReadExecute, PageSize.Size1G);
        space.Protect(V(GiB + 8 * Page), Page, Protection.None);
        ulong[] addresses =
        [
            GiB + 123, GiB + 8 * Page + 5, GiB + 3 * MiB + 7, GiB + 4 * MiB, 2 * GiB + MiB + 3, 4 * GiB + 700 * MiB,
            3 * GiB, 0x7fff_ffff_f000, 1UL << 47, 0xffff_8000_0000_0000,
        ];
        foreach (ulong va in addresses)
        {
            foreach (AccessKind access in new[] { AccessKind.Read, AccessKind.Write, AccessKind.Execute })
            {
                Translation mmu = space.Translate(V(va), access);
                Translation lockless = space.TranslateLockless(V(va), access);
                Assert.True(mmu.Succeeded == lockless.Succeeded, $"0x{va:x} {access}: {mmu} vs {lockless}");
                if (mmu.Succeeded)
                {
                    Assert.Equal(mmu.PhysAddr, lockless.PhysAddr);
                    Assert.Equal(mmu.PageSize, lockless.PageSize);
                    Assert.Equal(mmu.Protection, lockless.Protection);
                }
                else
                {
                    Assert.Equal(mmu.Fault.Reason, lockless.Fault.Reason);
                }
            }
        }
    }

    [Fact]
    public void Get_pages_lockless_fills_leading_pages_across_leaf_sizes_and_stops_at_a_hole_or_a_forbidden_page()
    {
        using Machine machine = FragmentMachines.Create(2, memory: 4 * GiB);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr pool = machine.AllocatePhysical(64 * MiB);
        space.Map(V(GiB - 2 * MiB), pool, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        space.Map(V(GiB), pool + 2 * MiB, 2 * MiB, Protection.Read, PageSize.Size2M);
        var pages = new PhysAddr[600];
        int filled = space.GetPagesLockless(V(GiB - 4 * Page), pages);
        Assert.Equal(516, filled); // 4 pages before the boundary, 512 of the 2 MiB leaf, then a hole
        for (int i = 0; i < filled; i++) Assert.Equal(pool + (2 * MiB - 4 * Page + (ulong)i * Page), pages[i]);
        // Writes stop where the read-only leaf starts.
        Assert.Equal(4, space.GetPagesLockless(V(GiB - 4 * Page), pages, AccessKind.Write));
        Assert.Equal(0, space.GetPagesLockless(V(3 * GiB), pages));
        Assert.Throws<ArgumentException>(() => space.GetPagesLockless(V(GiB + 5), pages));
    }

    /// <summary>Records what a lockless walk reported; on its first leaf it stops in the middle of the walk until
    /// the test has changed the tables (between the walker's read of the PTE and its re-read of the PMD).</summary>
    private struct PausingOps : ILocklessWalkOps
    {
        public ManualResetEventSlim Read;
        public ManualResetEventSlim Go;
        public bool Paused;
        public bool Found;
        public ulong Frame;
        public int Rewinds;

        public bool Leaf(ulong address, ulong entry, int level, int rights)
        {
            if (!Paused)
            {
                Paused = true;
                Read.Set();
                Go.Wait();
            }
            Found = true;
            Frame = FastPt.Hardware.PageTableEntry.LeafAddress(entry, level);
            return true;
        }

        public bool Hole(ulong address, ulong entry, int level)
        {
            Found = false;
            return true;
        }

        public void Rewind(ulong address)
        {
            Found = false;
            Rewinds++;
        }
    }

    /// <summary>A walker reads the PTE, then the region is collapsed (its PTE table unlinked, deferred) and the 2 MiB
    /// leaf unmapped. The PTE it read is still in the deferred table, intact; only the re-check of the PMD tells it
    /// the table is gone. This test fails if the re-check is removed: the walker then reports the old frame.</summary>
    [Theory]
    [InlineData(1, PteFreeDeferScheme.MarkAndDeferAtLastReference)]
    [InlineData(16, PteFreeDeferScheme.DeferredRefcount)]
    public void A_walker_does_not_trust_a_pte_read_from_a_table_that_was_unlinked_meanwhile(int perBlock, PteFreeDeferScheme scheme)
    {
        using Machine machine = FragmentMachines.Create(perBlock, scheme);
        using AddressSpace space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(2 * MiB);
        space.Map(V(GiB), frames, 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        using var read = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        var ops = new PausingOps { Read = read, Go = go };
        LocklessWalkStatus status = default;
        Exception? failure = null;
        var walker = new Thread(() =>
        {
            try
            {
                using RcuReader reader = machine.Memory.Rcu.RegisterReader();
                status = PageWalk.WalkLockless(machine.Memory.Physical, space.Mm.RootPa, space.Mm.RootLevel, reader,
                    checkPoison: true, GiB + 5 * Page, GiB + 6 * Page, ref ops, out _);
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        walker.IsBackground = true;
        walker.Start();
        long freedWhileHeld;
        try
        {
            Assert.True(read.Wait(Bound, TestContext.Current.CancellationToken));
            space.Collapse(V(GiB));
            space.Unmap(V(GiB), 2 * MiB);
            freedWhileHeld = machine.GetStatistics().PteBlocksFreed;
        }
        finally
        {
            go.Set(); // never leave the walker parked, whatever failed
        }
        Assert.True(walker.Join(Bound));
        Assert.Equal(0, freedWhileHeld); // the walker's section holds the table
        Assert.Null(failure);
        Assert.Equal(LocklessWalkStatus.Completed, status);
        Assert.Equal(1, ops.Rewinds);
        Assert.False(ops.Found, $"the walker reported frame 0x{ops.Frame:x} of a PTE table that was already unlinked");
        machine.RcuBarrier();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(0, after.PteFragmentsInUse);
        Assert.Equal(perBlock == 1 ? 1 : 0, after.PteBlocksFreed); // with 16, the cursor still holds the block
        Assert.Equal(0, after.UseAfterFreeDetected);
    }
}
