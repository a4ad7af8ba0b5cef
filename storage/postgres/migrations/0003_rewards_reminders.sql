-- placeholder, replaced by its owner
SELECT 1;
