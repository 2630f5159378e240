using System;
using System.Diagnostics;
using System.Threading;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

public class PageTableLockTests
{
    [Fact]
    public void Contended_page_table_lock_acquisitions_are_counted_and_changes_stay_consistent()
    {
        using Machine machine = Create(2 * GiB, checkedMode: false);
        using AddressSpace space = machine.CreateAddressSpace();
        long rounds = 0;
        void Worker(ulong region)
        {
            var watch = Stopwatch.StartNew();
            while (machine.GetStatistics().PageTableLockContentions == 0 && watch.Elapsed < TimeSpan.FromSeconds(10))
            {
                space.Map(V(region), P(1 * GiB), 2 * MiB, Protection.ReadWrite, PageSize.Size4K);
                space.Unmap(V(region), 2 * MiB);
                Interlocked.Increment(ref rounds);
            }
        }
        var a = new Thread(() => Worker(1UL << 39));
        var b = new Thread(() => Worker((1UL << 39) + (1UL << 30)));
        a.Start();
        b.Start();
        a.Join();
        b.Join();
        Assert.True(machine.GetStatistics().PageTableLockContentions > 0, $"no contention in {rounds} rounds");
        Assert.Equal(0, space.PageTables.Total);
    }
}
