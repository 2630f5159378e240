using FastPt;
using Xunit;

namespace FastPt.Tests;

public class SmokeTests
{
    [Fact]
    public void Boots_and_maps()
    {
        using var machine = new Machine(new MachineOptions { MemorySize = 4UL << 30 });
        var stats = machine.GetStatistics();
        Assert.True(stats.FreePages > 0);
        using var space = machine.CreateAddressSpace();
        PhysAddr frames = machine.AllocatePhysical(2UL << 20);
        space.Map((VirtAddr)0x4000_0000UL, frames, 2UL << 20, Protection.ReadWrite);
        Assert.Equal(1, space.LeafCount(PageSize.Size2M));
        space.Write((VirtAddr)0x4000_1000UL, 42UL);
        Assert.Equal(42UL, space.Read<ulong>((VirtAddr)0x4000_1000UL));
        space.Unmap((VirtAddr)0x4000_1000UL, 4096);
        Assert.Equal(511, space.LeafCount(PageSize.Size4K));
        Assert.False(space.Translate((VirtAddr)0x4000_1000UL).Succeeded);
        space.Unmap((VirtAddr)0x4000_0000UL, 4096);
        space.Unmap((VirtAddr)0x4000_2000UL, (2UL << 20) - 0x2000);
        Assert.Equal(0, space.PageTables.Total);
    }
}
