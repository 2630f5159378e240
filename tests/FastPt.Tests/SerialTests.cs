using Xunit;

namespace FastPt.Tests;

/// <summary>Tests that measure process-wide quantities (resident memory, EventPipe sessions) run alone.</summary>
[CollectionDefinition("Serial", DisableParallelization = true)]
public sealed class SerialTests;
