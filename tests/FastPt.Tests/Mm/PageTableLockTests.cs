using System;
using System.Threading;
using FastPt.Hardware;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

/// <summary>The split page-table locks themselves: which lock guards which table in each mode, contention
/// counting, the allocated lock's owner checks and statistics, and checked mode's report of a lock taken on a
/// freed table.</summary>
public unsafe class PageTableLockTests
{
    private const ulong Base = 1UL << 39;

    internal static Machine Create(PageTableLockMode mode, bool checkedMode = false, ulong memory = 2 * GiB) =>
        new(new MachineOptions { MemorySize = memory, PageTableLocks = mode, CheckedMode = checkedMode });

    /// <summary>Physical address of the table at <paramref name="level"/> on the walk to <paramref name="va"/>.</summary>
    internal static ulong TableOf(AddressSpace space, ulong va, int level)
    {
        MemoryManager memory = space.Mm.Memory;
        ulong table = space.Mm.RootPa;
        for (int l = space.Mm.RootLevel; l > level; l--)
        {
            ulong entry = memory.Physical.TableForRead(table)[FastPt.Geometry.Paging.Index(l, va)];
            Assert.True(PageTableEntry.IsTable(entry, l), $"no table below level {l} for 0x{va:x}");
            table = PageTableEntry.TableAddress(entry);
        }
        return table;
    }

    [Theory]
    [InlineData(PageTableLockMode.Inline)]
    [InlineData(PageTableLockMode.Allocated)]
    [InlineData(PageTableLockMode.SingleLock)]
    public void Each_mode_hands_out_the_lock_the_kernel_would(PageTableLockMode mode)
    {
        using Machine machine = Create(mode);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(GiB), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
        MmStruct mm = space.Mm;
        ulong pte0 = TableOf(space, Base, 1), pte1 = TableOf(space, Base + 2 * MiB, 1), pmd = TableOf(space, Base, 2);
        PageTableLock a = PageTableLocking.PteLockptr(mm, pte0);
        PageTableLock b = PageTableLocking.PteLockptr(mm, pte1);
        PageTableLock m = PageTableLocking.PmdLockptr(mm, pmd);
        PageTableLock top = PageTableLocking.LockOfTable(mm, TableOf(space, Base, 3), 3);
        PageTableLock gigabyte = PageTableLocking.HugePteLockptr(mm, 3, TableOf(space, Base, 3));
        PageTableLock twoMeg = PageTableLocking.HugePteLockptr(mm, 2, pmd);
        Assert.True(top.IsSameAs(gigabyte)); // huge_pte_lock of a 1 GiB leaf: page_table_lock
        Assert.True(twoMeg.IsSameAs(m));     // of a 2 MiB leaf: the PMD table's lock
        if (mode == PageTableLockMode.SingleLock)
        {
            Assert.True(a.IsSameAs(b) && a.IsSameAs(m) && a.IsSameAs(top));
            Assert.Equal(0, machine.GetStatistics().PtlocksAllocated);
        }
        else
        {
            Assert.False(a.IsSameAs(b));
            Assert.False(a.IsSameAs(m));
            Assert.False(m.IsSameAs(top));
            Assert.Equal(3, machine.GetStatistics().PtlocksOutstanding); // two PTE tables and one PMD table
        }
        Assert.Equal(mode == PageTableLockMode.Allocated ? 1 : 0, machine.GetStatistics().PtlockSlabPages);
        space.Dispose();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(0, after.PtlocksOutstanding);
        Assert.Equal(0, after.PtlockSlabPages);
    }

    [Theory]
    [InlineData(PageTableLockMode.Inline)]
    [InlineData(PageTableLockMode.Allocated)]
    public void Each_PTE_fragment_of_a_block_has_a_lock_of_its_own_that_lives_with_its_block(PageTableLockMode mode)
    {
        // The kernel's ptlock is per ptdesc, so two PTE tables that share a block (pt_frag) still lock apart.
        using Machine machine = new(new MachineOptions { MemorySize = 2 * GiB, PageTableLocks = mode, PteFragmentsPerBlock = 4 });
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(GiB), 4 * MiB, Protection.ReadWrite, PageSize.Size4K);
        MmStruct mm = space.Mm;
        ulong pte0 = TableOf(space, Base, 1), pte1 = TableOf(space, Base + 2 * MiB, 1), pmd = TableOf(space, Base, 2);
        Assert.Equal(mm.Memory.Fragments.HeadOf(pte0 >> 12), mm.Memory.Fragments.HeadOf(pte1 >> 12)); // one block
        PageTableLock a = PageTableLocking.PteLockptr(mm, pte0);
        PageTableLock b = PageTableLocking.PteLockptr(mm, pte1);
        Assert.False(a.IsSameAs(b));
        Assert.False(a.IsSameAs(PageTableLocking.PmdLockptr(mm, pmd)));
        // Every fragment of the block got its lock with the block (two of them not handed out yet), plus the PMD's.
        Assert.Equal(5, machine.GetStatistics().PtlocksOutstanding);
        space.Dispose();
        machine.RcuBarrier();
        MemoryStatistics after = machine.GetStatistics();
        Assert.Equal(0, after.PtlocksOutstanding);
        Assert.Equal(0, after.PteBlocks);
        Assert.Equal(0, after.PtlockSlabPages);
    }

    [Theory]
    [InlineData(PageTableLockMode.Inline)]
    [InlineData(PageTableLockMode.Allocated)]
    [InlineData(PageTableLockMode.SingleLock)]
    public void A_held_lock_makes_the_next_taker_wait_and_the_contention_is_counted(PageTableLockMode mode)
    {
        using Machine machine = Create(mode);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        ulong pte = TableOf(space, Base, 1);
        long before = machine.GetStatistics().PageTableLockContentions;
        int inside = 0;
        PageTableLock held = PageTableLocking.PteLockptr(space.Mm, pte);
        held.Lock();
        var waiter = new Thread(() =>
        {
            PageTableLock ptl = PageTableLocking.PteLockptr(space.Mm, pte);
            ptl.Lock();
            Volatile.Write(ref inside, 1);
            ptl.Unlock();
        });
        waiter.Start();
        // Wait for the event itself: the waiter counted its contention (the timeout only bounds a failure).
        Assert.True(SpinWait.SpinUntil(() => machine.GetStatistics().PageTableLockContentions > before, TimeSpan.FromSeconds(30)),
            "the second taker never reported contention");
        Assert.Equal(0, Volatile.Read(ref inside));
        held.Unlock();
        Assert.True(waiter.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, inside);
    }

    [Fact]
    public void Allocated_locks_track_their_owner_and_hold_times()
    {
        using Machine machine = Create(PageTableLockMode.Allocated);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        ulong pte = TableOf(space, Base, 1);
        PageTableLock ptl = PageTableLocking.PteLockptr(space.Mm, pte);
        long acquisitions = machine.GetStatistics().AllocatedLockAcquisitions;
        ptl.Lock();
        Thread.Sleep(5);
        // DEBUG_SPINLOCK: taking a lock one already holds is reported, not a silent deadlock.
        InvalidOperationException recursion = Assert.Throws<InvalidOperationException>(() => PageTableLocking.PteLockptr(space.Mm, pte).Lock());
        Assert.Contains("recursion", recursion.Message);
        // A release by another thread is reported too.
        Exception? wrongOwner = null;
        var other = new Thread(() => wrongOwner = Record.Exception(() => PageTableLocking.PteLockptr(space.Mm, pte).Unlock()));
        other.Start();
        Assert.True(other.Join(TimeSpan.FromSeconds(30)));
        Assert.Contains("wrong owner", Assert.IsType<InvalidOperationException>(wrongOwner).Message);
        ptl.Unlock();
        MemoryStatistics s = machine.GetStatistics();
        Assert.Equal(acquisitions + 1, s.AllocatedLockAcquisitions);
        Assert.True(s.AllocatedLockMaxHold >= TimeSpan.FromMilliseconds(4), $"max hold {s.AllocatedLockMaxHold}");
        Assert.True(s.AllocatedLockHoldTime >= s.AllocatedLockMaxHold);
        // The statistics survive the lock: freeing the table folds them into the machine's totals.
        space.Unmap(V(Base), 2 * MiB);
        Assert.True(machine.GetStatistics().AllocatedLockMaxHold >= TimeSpan.FromMilliseconds(4));
    }

    [Theory]
    [InlineData(PageTableLockMode.Inline)]
    [InlineData(PageTableLockMode.Allocated)]
    public void Checked_mode_reports_a_lock_taken_on_a_freed_table(PageTableLockMode mode)
    {
        using Machine machine = Create(mode, checkedMode: true);
        using AddressSpace space = machine.CreateAddressSpace();
        space.Map(V(Base), P(GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
        ulong pte = TableOf(space, Base, 1);
        space.Unmap(V(Base), 2 * MiB); // frees the table (after its flush)
        long detected = machine.GetStatistics().UseAfterFreeDetected;
        Assert.Throws<UseAfterFreeException>(() => { PageTableLocking.PteLockptr(space.Mm, pte); });
        Assert.Equal(detected + 1, machine.GetStatistics().UseAfterFreeDetected);
    }

    [Fact]
    public void A_contended_page_table_lock_acquisition_is_counted_once()
    {
        using Machine machine = Create(PageTableLockMode.Inline);
        using AddressSpace space = machine.CreateAddressSpace();
        long before = machine.GetStatistics().PageTableLockContentions;
        Thread mapper;
        // page_table_lock: the mapper needs it for the first table above PMD level of a fresh address space.
        PageTableLock pageTableLock = PageTableLocking.LockOfTable(space.Mm, space.Mm.RootPa, space.Mm.RootLevel);
        pageTableLock.Lock();
        try
        {
            mapper = new Thread(() =>
            {
                space.Map(V(1UL << 39), P(1 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
                space.Unmap(V(1UL << 39), 2 * MiB);
            });
            mapper.Start();
            // Wait for the event itself: the mapper found the lock held and counted it before blocking. The bound
            // only ends a test that failed.
            Assert.True(SpinWait.SpinUntil(() => machine.GetStatistics().PageTableLockContentions > before, TimeSpan.FromMinutes(2)),
                "the blocked acquisition was never counted");
            Assert.True(mapper.IsAlive);
        }
        finally
        {
            pageTableLock.Unlock();
        }
        mapper.Join();
        Assert.Equal(before + 1, machine.GetStatistics().PageTableLockContentions);
        Assert.Equal(0, space.PageTables.Total);
    }

    [Fact]
    public void Changes_of_two_threads_under_the_page_table_lock_stay_consistent()
    {
        using Machine machine = Create(PageTableLockMode.Inline);
        using AddressSpace space = machine.CreateAddressSpace();
        void Worker(ulong region)
        {
            for (int round = 0; round < 300; round++)
            {
                space.Map(V(region), P(1 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
                Assert.Equal(1 * GiB + 5 * Page + 8, space.Translate(V(region + 5 * Page + 8)).PhysAddr.Value);
                space.Unmap(V(region), 2 * MiB);
            }
        }
        Exception? failure = null;
        var a = new Thread(() => { try { Worker(1UL << 39); } catch (Exception e) { failure ??= e; } });
        var b = new Thread(() => { try { Worker((1UL << 39) + (1UL << 30)); } catch (Exception e) { failure ??= e; } });
        a.Start();
        b.Start();
        a.Join();
        b.Join();
        Assert.Null(failure);
        Assert.Equal(0, space.PageTables.Total);
        Assert.Equal(0UL, space.MappedBytes);
    }
}
