using System;
using System.Threading;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

public class PageTableLockTests
{
    [Fact]
    public void A_contended_page_table_lock_acquisition_is_counted_once()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        long before = machine.GetStatistics().PageTableLockContentions;
        Thread mapper;
        using (space.Mm.LockTables())
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
        mapper.Join();
        Assert.Equal(before + 1, machine.GetStatistics().PageTableLockContentions);
        Assert.Equal(0, space.PageTables.Total);
    }

    [Fact]
    public void Changes_of_two_threads_under_the_page_table_lock_stay_consistent()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
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
