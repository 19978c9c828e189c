#include <gtest/gtest.h>
TEST(HealthTest, Placeholder) { SUCCEED(); }
