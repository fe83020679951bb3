package dev.tollgate.proxy.config;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the configuration parser: any input ends in a {@link SidecarConfig} or a {@link ConfigException}, never
 * another exception. Without JAZZER_FUZZ set, the seed inputs in the resources run as a regular test.
 */
class ConfigLoaderFuzzTest {
    @FuzzTest(maxDuration = "30s")
    void parsesAnyInputIntoAConfigOrAConfigException(FuzzedDataProvider data) {
        String yaml = data.consumeRemainingAsString();
        try {
            ConfigLoader.parse(yaml, null);
        } catch (ConfigException expected) {
            if (expected.errors().isEmpty()) {
                throw new AssertionError("a ConfigException without errors");
            }
        }
    }
}
