using System.Linq;
using FastPt.Mm;
using Xunit;
using static FastPt.Tests.TestMachines;

namespace FastPt.Tests.Mm;

public class MemblockTests
{
    [Fact]
    public void Allocates_top_down_and_skips_reserved()
    {
        var memblock = new Memblock();
        memblock.AddMemory(0, 1 * GiB);
        memblock.AddMemory(2 * GiB, 1 * GiB);
        Assert.True(memblock.TryAllocate(2 * MiB, 2 * MiB, out ulong a));
        Assert.Equal(3 * GiB - 2 * MiB, a);
        Assert.True(memblock.TryAllocate(Page, Page, out ulong b));
        Assert.Equal(3 * GiB - 2 * MiB - Page, b);
        Assert.True(memblock.TryAllocate(2 * MiB, 2 * MiB, out ulong c));
        Assert.Equal(3 * GiB - 6 * MiB, c);
        Assert.Single(memblock.Reserved, r => r.End == 3 * GiB);
        ulong free = memblock.FreeRanges().Aggregate(0UL, (sum, r) => sum + r.Size);
        Assert.Equal(2 * GiB - 4 * MiB - Page, free);
        Assert.False(memblock.TryAllocate(2 * GiB, Page, out _));
    }
}
